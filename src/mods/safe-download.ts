import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { isIP, type LookupFunction } from 'node:net';
import { AgentError } from '../errors.js';
import type { AddressPolicy } from './address-policy.js';

// `import http from 'node:http'` in ESM builds the module's namespace, which reads Node 24's lazy http.WebSocket
// family of exports and so loads the whole bundled undici: about 14 MB of resident memory on every host for
// exports the agent never uses. require() hands back the object without touching those getters.
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/**
 * Downloads a mod from a URL the panel (or a user behind it) chose, without letting it reach the host's own
 * network: every address is judged by one policy, whether it is written in the URL, returned by a lookup (the
 * check is the socket's own lookup, so DNS rebinding between check and connect is impossible) or named by a
 * redirect (followed by hand and re-checked hop by hop). The size is capped while bytes arrive.
 */

export type Resolve = (hostname: string, options: LookupOptions) => Promise<LookupAddress[]>;

export interface DownloadOptions {
  /** Judges every address connected to: URL literals, lookup results, every redirect hop. */
  addressPolicy: AddressPolicy;
  /**
   * Plain http, for closed test setups. Off, an http URL or a redirect to one is refused: on the way a mod can be
   * swapped for anything (sha256 is optional), and the server extracts and runs what it receives.
   */
  allowHttp: boolean;
  maxBytes: number;
  maxRedirects: number;
  timeoutMs: number;
  userAgent: string;
  /** Name resolution; `dns.lookup` unless a test answers for names it made up. Its answers are checked the same. */
  resolve?: Resolve;
  onProgress?: (bytes: number, total: number | undefined) => void;
  /** Sees every chunk as it is written (checksums), so nothing needs to read the file back. */
  onChunk?: (chunk: Buffer) => void;
}

const systemResolve: Resolve = (hostname, options) => dns.lookup(hostname, { ...options, all: true });

/** The one gate every address passes: throws PERMISSION_DENIED when the policy refuses it. */
function admit(policy: AddressPolicy, address: string, shownAs: string): void {
  const why = policy(address);
  if (why !== undefined) {
    throw new AgentError(
      'PERMISSION_DENIED',
      `downloadUrl: ${shownAs} is a private, local or special-purpose address: ${why}`,
      {
        address,
        range: why,
      },
    );
  }
}

/**
 * The IP address a URL names directly, if it does. WHATWG parsing has already folded every IPv4 spelling
 * (`0x7f.1`, `2130706433`) into dotted quads and compressed IPv6 inside brackets; node connects to a literal
 * without calling the lookup, so a literal must be judged here.
 */
function literalAddress(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') && url.hostname.endsWith(']') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) ? host : undefined;
}

function guardedLookup(policy: AddressPolicy, resolve: Resolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options).then(
      (list) => {
        let error: AgentError | undefined;
        try {
          // Every answer, not just the first: with autoSelectFamily the socket may try any of them.
          for (const a of list) admit(policy, a.address, `${hostname} (${a.address})`);
          if (list.length === 0) error = new AgentError('INVALID_PAYLOAD', `downloadUrl: ${hostname} has no address`);
        } catch (err) {
          error = err as AgentError;
        }
        if (error) return callback(error as unknown as NodeJS.ErrnoException, '', 0);
        const first = list[0] as LookupAddress;
        if (options.all) return callback(null, list);
        return callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

function checkHop(url: URL, options: DownloadOptions): void {
  if (url.protocol === 'http:' && !options.allowHttp) {
    throw new AgentError('CONFIG_INVALID', 'downloadUrl: plain http is refused on this node; use https');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AgentError('INVALID_PAYLOAD', `downloadUrl: ${url.protocol} URLs are not downloaded directly`);
  }
  const literal = literalAddress(url);
  if (literal !== undefined) admit(options.addressPolicy, literal, url.hostname);
}

/** Streams `url` into `out`; returns the byte count. Refuses other schemes, refused addresses, loops and oversize. */
export async function safeDownload(url: string, out: FileHandle, options: DownloadOptions): Promise<number> {
  const lookup = guardedLookup(options.addressPolicy, options.resolve ?? systemResolve);
  let current = new URL(url);
  for (let hop = 0; hop <= options.maxRedirects; hop++) {
    checkHop(current, options);
    const client = current.protocol === 'https:' ? https : http;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = client.get(
        current,
        { lookup, headers: { 'user-agent': options.userAgent }, timeout: options.timeoutMs },
        resolve,
      );
      req.on('timeout', () => req.destroy(new AgentError('TIMEOUT', 'the download stalled')));
      req.on('error', reject);
    });
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      current = nextHop(res.headers.location, current);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new AgentError('INVALID_PAYLOAD', `downloadUrl: the server answered HTTP ${status}`);
    }
    const total = res.headers['content-length'] ? Number(res.headers['content-length']) : undefined;
    if (total !== undefined && total > options.maxBytes) {
      res.destroy();
      throw new AgentError('FILE_TOO_LARGE', `the download is ${total} bytes; at most ${options.maxBytes}`);
    }
    let bytes = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > options.maxBytes) {
        res.destroy();
        throw new AgentError('FILE_TOO_LARGE', `the download exceeds ${options.maxBytes} bytes`);
      }
      await out.write(chunk);
      options.onChunk?.(chunk);
      options.onProgress?.(bytes, total);
    }
    return bytes;
  }
  throw new AgentError('INVALID_PAYLOAD', `downloadUrl: more than ${options.maxRedirects} redirects`);
}

function nextHop(location: string, from: URL): URL {
  try {
    return new URL(location, from);
  } catch (err) {
    throw new AgentError('INVALID_PAYLOAD', 'downloadUrl: a redirect named an unparseable location', undefined, {
      cause: err,
    });
  }
}
