import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed file URLs (get_file_url, PROTOCOL.md §4.4): minted by a command on any transport, checked by the HTTP
 * file route, so they belong to the wire protocol rather than to either side. The key is derived from the node
 * token: rotating the token invalidates every URL handed out.
 */
export class UrlSigner {
  private readonly token: { current(): string };
  private keyFor: { token: string; key: Buffer } | undefined;

  /** `nodeToken` may be a rotating token (NodeToken): URLs then follow it, and a rotation revokes them all. */
  constructor(nodeToken: string | { current(): string }) {
    this.token = typeof nodeToken === 'string' ? { current: () => nodeToken } : nodeToken;
  }

  private get key(): Buffer {
    const token = this.token.current();
    if (this.keyFor?.token !== token) {
      this.keyFor = { token, key: createHmac('sha256', token).update('ctrl-alt-play file url v1').digest() };
    }
    return this.keyFor.key;
  }

  private mac(method: string, serverId: string, path: string, expires: number): Buffer {
    return createHmac('sha256', this.key).update(`${method}\n${serverId}\n${path}\n${expires}`).digest();
  }

  sign(method: 'GET' | 'PUT', serverId: string, path: string, ttlSeconds: number): string {
    const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
    const signature = this.mac(method, serverId, path, expires).toString('base64url');
    const query = new URLSearchParams({ path, expires: String(expires), signature });
    return `/api/servers/${encodeURIComponent(serverId)}/files/content?${query}`;
  }

  verify(method: string, serverId: string, path: string, expires: unknown, signature: unknown): boolean {
    const exp = Number(expires);
    if (!Number.isInteger(exp) || exp * 1000 < Date.now() || typeof signature !== 'string') return false;
    const given = Buffer.from(signature, 'base64url');
    const expected = this.mac(method, serverId, path, exp);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
