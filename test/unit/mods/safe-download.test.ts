import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AddressPolicy, publicAddressesOnly, specialPurposeRange } from '../../../src/mods/address-policy.js';
import { type DownloadOptions, type Resolve, safeDownload } from '../../../src/mods/safe-download.js';

/** Every request the site saw, by path: a refused download must not have reached it at all. */
const hits: string[] = [];
let port = 0;
const site = createServer((req, res) => {
  hits.push(req.url ?? '');
  if (req.url === '/mod.zip') res.writeHead(200, { 'content-length': 11 }).end('mod content');
  else if (req.url === '/to-mapped') res.writeHead(302, { location: `http://[::ffff:127.0.0.1]:${port}/secret` }).end();
  else if (req.url === '/to-metadata') res.writeHead(302, { location: `http://metadata.test:${port}/secret` }).end();
  else if (req.url === '/to-mod') res.writeHead(301, { location: '/mod.zip' }).end();
  else if (req.url === '/endless') {
    // No content-length: only the count of bytes that really arrive can stop it.
    res.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 1);
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
    };
    res.on('drain', pump);
    pump();
  } else res.writeHead(200).end('secret metadata');
});

let dir = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', () => resolve()));
  port = (site.address() as AddressInfo).port;
  dir = await mkdtemp(path.join(tmpdir(), 'safe-download-'));
});
afterAll(async () => {
  site.closeAllConnections();
  site.close();
  await rm(dir, { recursive: true, force: true });
});

/** The real policy, except that this test's own site on 127.0.0.1 stands in for a public mirror. */
const siteIsPublic: AddressPolicy = (a) => (a === '127.0.0.1' ? undefined : specialPurposeRange(a));

/** Names that exist only in these tests; the guard checks their answers exactly as it checks DNS's. */
const names: Record<string, string[]> = {
  'mirror.test': ['127.0.0.1'],
  'metadata.test': ['169.254.169.254'],
  'split.test': ['93.184.215.14', '10.0.0.7'],
  'mapped.test': ['::ffff:7f00:1'],
};
const resolve: Resolve = async (hostname) => {
  const list = names[hostname];
  if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

let seq = 0;
async function download(url: string, options: Partial<DownloadOptions> = {}) {
  const file = path.join(dir, `out-${seq++}`);
  const out = await open(file, 'wx');
  const before = hits.length;
  try {
    const bytes = await safeDownload(url, out, {
      addressPolicy: publicAddressesOnly,
      allowHttp: true,
      maxBytes: 1024 * 1024,
      maxRedirects: 3,
      timeoutMs: 10_000,
      userAgent: 'test',
      resolve,
      ...options,
    }).catch((err: unknown) => err as Error & { code?: string });
    return { result: bytes, content: await readFile(file, 'utf8'), requests: hits.slice(before) };
  } finally {
    await out.close();
  }
}

describe('safeDownload', () => {
  it('refuses loopback written as an IPv4-mapped literal, before connecting', async () => {
    for (const host of ['[::ffff:127.0.0.1]', '[0:0:0:0:0:ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::ffff:0.0.0.0]']) {
      const r = await download(`http://${host}:${port}/latest/meta-data/`);
      expect(r.result, host).toMatchObject({ code: 'PERMISSION_DENIED' });
      expect(r.requests, host).toEqual([]);
      expect(r.content, host).toBe('');
    }
  });

  it('refuses loopback in the other literal spellings', async () => {
    for (const host of ['127.0.0.1', '0x7f.1', '2130706433', '127.1', '[::1]', '[::127.0.0.1]', '[64:ff9b::7f00:1]']) {
      const r = await download(`http://${host}:${port}/`);
      expect(r.result, host).toMatchObject({ code: 'PERMISSION_DENIED' });
      expect(r.requests, host).toEqual([]);
    }
  });

  it('checks every address a name resolves to, in the socket lookup', async () => {
    for (const name of ['metadata.test', 'split.test', 'mapped.test']) {
      const r = await download(`http://${name}:${port}/`);
      expect(r.result, name).toMatchObject({ code: 'PERMISSION_DENIED' });
      expect((r.result as Error).message, name).toContain(name);
      expect(r.requests, name).toEqual([]);
    }
    // The system resolver takes the same path: localhost is in /etc/hosts on every machine these tests run on.
    const r = await download(`http://localhost:${port}/`, { resolve: undefined });
    expect(r.result).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(r.requests).toEqual([]);
  });

  it('downloads from an allowed address, by literal and by name, through a redirect', async () => {
    for (const url of [`http://127.0.0.1:${port}/mod.zip`, `http://mirror.test:${port}/to-mod`]) {
      const r = await download(url, { addressPolicy: siteIsPublic });
      expect(r.result, url).toBe(11);
      expect(r.content, url).toBe('mod content');
    }
  });

  it('re-checks every redirect hop: an allowed hop cannot forward to a refused literal or name', async () => {
    for (const from of ['/to-mapped', '/to-metadata']) {
      const r = await download(`http://127.0.0.1:${port}${from}`, { addressPolicy: siteIsPublic });
      expect(r.result, from).toMatchObject({ code: 'PERMISSION_DENIED' });
      expect(r.requests, from).toEqual([from]);
      expect(r.content, from).toBe('');
    }
  });

  it('refuses plain http unless allowed', async () => {
    for (const url of [`http://127.0.0.1:${port}/mod.zip`, `http://mirror.test:${port}/mod.zip`]) {
      const r = await download(url, { addressPolicy: siteIsPublic, allowHttp: false });
      expect(r.result, url).toMatchObject({ code: 'CONFIG_INVALID' });
      expect(r.requests, url).toEqual([]);
    }
    expect((await download('ftp://mirror.test/mod.zip')).result).toMatchObject({ code: 'INVALID_PAYLOAD' });
  });

  it('caps the size while bytes arrive, whatever the headers say', async () => {
    const r = await download(`http://127.0.0.1:${port}/endless`, { addressPolicy: siteIsPublic, maxBytes: 200_000 });
    expect(r.result).toMatchObject({ code: 'FILE_TOO_LARGE' });
    expect(r.content.length).toBeLessThanOrEqual(200_000);
  });
});
