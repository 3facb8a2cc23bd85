import net from 'node:net';

/**
 * A protocol-level OpenTTD client that joins a server as a spectator and goes no further (no map download).
 * OpenTTD counts a client from the moment it welcomes it (SERVER_WELCOME) until the connection closes, and that
 * is the `clients_on` its UDP server info reports, which is what the game query reads as players.
 *
 * TCP game packets are `u16le size (including itself) | u8 type | payload`; strings are NUL-terminated. The first
 * packet types never change between versions (SERVER_FULL 0, SERVER_BANNED 1, CLIENT_JOIN 2, SERVER_ERROR 3);
 * SERVER_WELCOME is 14 in OpenTTD 13. CLIENT_JOIN carries the revision and the NewGRF version, both of which
 * must match the server's: `1<<28 | major<<24 | minor<<20 | release<<19 | 28004` (13.0 → 0x1d086d64).
 * Versions 14 and later add a key exchange before the welcome; this client speaks 13 only.
 */
const CLIENT_JOIN = 2;
const SERVER_ERROR = 3;
const SERVER_WELCOME = 14;
const COMPANY_SPECTATOR = 255;

export interface JoinedClient {
  close(): Promise<void>;
}

export function newgrfVersion(revision: string): number {
  const [major, minor] = revision.split('.').map(Number);
  if (!Number.isInteger(major) || !Number.isInteger(minor)) throw new Error(`not a release revision: ${revision}`);
  return ((1 << 28) | ((major as number) << 24) | ((minor as number) << 20) | (1 << 19) | 28004) >>> 0;
}

function joinPacket(revision: string, name: string): Buffer {
  const str = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
  const grf = Buffer.alloc(4);
  grf.writeUInt32LE(newgrfVersion(revision));
  // The trailing 0 is the byte older servers read as the language; 13 ignores it.
  const body = Buffer.concat([
    Buffer.from([CLIENT_JOIN]),
    str(revision),
    grf,
    str(name),
    Buffer.from([COMPANY_SPECTATOR, 0]),
  ]);
  const size = Buffer.alloc(2);
  size.writeUInt16LE(body.length + 2);
  return Buffer.concat([size, body]);
}

/** Connects, sends CLIENT_JOIN and resolves once the server welcomes the client; rejects on its refusal. */
export function joinOpenttd(host: string, port: number, revision: string, name = 'query-test'): Promise<JoinedClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error('no SERVER_WELCOME within 15 s')), 15_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.on('error', fail);
    socket.on('connect', () => socket.write(joinPacket(revision, name)));
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 3 && buffered.length >= buffered.readUInt16LE(0)) {
        const size = buffered.readUInt16LE(0);
        const type = buffered[2];
        const payload = buffered.subarray(3, size);
        buffered = buffered.subarray(Math.max(size, 3));
        if (type === SERVER_WELCOME) {
          clearTimeout(timer);
          resolve({
            close: () =>
              new Promise<void>((done) => {
                socket.once('close', () => done());
                socket.destroy();
              }),
          });
        } else if (type === SERVER_ERROR || type === 0 || type === 1) {
          fail(new Error(`the server refused the join: packet ${type}, error ${payload[0]}`));
        }
      }
    });
  });
}
