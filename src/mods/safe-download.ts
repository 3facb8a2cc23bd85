import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { AgentError } from '../errors.js';

// `import http from 'node:http'` in ESM builds the module's namespace, which reads Node 24's lazy http.WebSocket
// family of exports and so loads the whole bundled undici: about 14 MB of resident memory on every host for
// exports the agent never uses. require() hands back the object without touching those getters.
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/**
 * Downloads a mod from a URL the panel (or a user behind it) chose, without letting it reach the host's own
 * network: every address a name resolves to is checked at connect time (the check is the socket's own lookup,
 * so DNS rebinding between check and connect is impossible), redirects are followed by hand and re-checked, and
 * the size is capped while bytes arrive.
 */

/** Loopback, private, link-local, CGNAT, multicast, reserved and unspecified ranges, IPv4 and IPv6. */
export function isPrivateAddress(address: string): boolean {
  if (isIP(address) === 4) {
    const [a = 0, b = 0] = address.split('.').map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224
    );
  }
  const v6 = address.toLowerCase();
  if (v6.startsWith('::ffff:')) return isPrivateAddress(v6.slice(7));
  return (
    v6 === '::' ||
    v6 === '::1' ||
    v6.startsWith('fc') ||
    v6.startsWith('fd') ||
    v6.startsWith('fe8') ||
    v6.startsWith('fe9') ||
    v6.startsWith('fea') ||
    v6.startsWith('feb') ||
    v6.startsWith('ff')
  );
}

export interface DownloadOptions {
  allowPrivate: boolean;
  maxBytes: number;
  maxRedirects: number;
  timeoutMs: number;
  userAgent: string;
  onProgress?: (bytes: number, total: number | undefined) => void;
  /** Sees every chunk as it is written (checksums), so nothing needs to read the file back. */
  onChunk?: (chunk: Buffer) => void;
}

function guardedLookup(allowPrivate: boolean) {
  return (
    hostname: string,
    options: object,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      const blocked = !allowPrivate && list.some((a) => isPrivateAddress(a.address));
      if (blocked) {
        const error = new AgentError('PERMISSION_DENIED', `${hostname} resolves to a private or local address`);
        return callback(error as unknown as NodeJS.ErrnoException, '', 0);
      }
      const first = list[0];
      if ((options as { all?: boolean }).all) return callback(null, list);
      return callback(null, first?.address ?? '', first?.family ?? 4);
    });
  };
}

/** Streams `url` into `out`; returns the byte count. Refuses non-http(s), private targets, loops and oversize. */
export async function safeDownload(url: string, out: FileHandle, options: DownloadOptions): Promise<number> {
  let current = new URL(url);
  for (let hop = 0; hop <= options.maxRedirects; hop++) {
    if (current.protocol !== 'https:' && current.protocol !== 'http:') {
      throw new AgentError('INVALID_PAYLOAD', `downloadUrl: ${current.protocol} URLs are not downloaded directly`);
    }
    if (
      !options.allowPrivate &&
      isIP(current.hostname.replace(/^\[|\]$/g, '')) &&
      isPrivateAddress(current.hostname.replace(/^\[|\]$/g, ''))
    ) {
      throw new AgentError('PERMISSION_DENIED', `downloadUrl: ${current.hostname} is a private or local address`);
    }
    const client = current.protocol === 'https:' ? https : http;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = client.get(
        current,
        {
          lookup: guardedLookup(options.allowPrivate),
          headers: { 'user-agent': options.userAgent },
          timeout: options.timeoutMs,
        },
        resolve,
      );
      req.on('timeout', () => req.destroy(new AgentError('TIMEOUT', 'the download stalled')));
      req.on('error', reject);
    });
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      current = new URL(res.headers.location, current);
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
