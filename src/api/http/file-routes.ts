import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AgentError } from '../../errors.js';
import { diskLimit } from '../../files/quota.js';
import { writeBody } from '../../files/write-body.js';
import type { UrlSigner } from '../../protocol/signed-url.js';
import { httpError, httpErrorBody } from '../../protocol/wire-error.js';
import type { FileAccess } from '../../servers/file-access.js';
import type { ServerRegistry } from '../../servers/registry.js';
import type { HttpHelpers } from './app.js';

/**
 * Streaming file transfer beside the command API (base64 in JSON suits configs, not a 2 GB world):
 *   GET /api/servers/:id/files/content?path=   with Range support (resumable downloads)
 *   PUT /api/servers/:id/files/content?path=   streamed to a temporary file, then renamed into place
 * Authenticated by the node token, or by a short-lived signed URL from get_file_url (for a browser).
 */

export const FILE_CONTENT_ROUTE = '/api/servers/:id/files/content';

/** Parses a single `bytes=start-end` range against a size; undefined for no or an unsatisfiable range. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'invalid' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

interface Params {
  id: string;
}
interface Query {
  path?: string;
  expires?: string;
  signature?: string;
}

type FileRequest = FastifyRequest<{ Params: Params; Querystring: Query }>;

interface FileRouteDeps {
  registry: ServerRegistry;
  access: FileAccess;
  signer: UrlSigner;
}

/** Throws AUTH_FAILED unless the request carries the node token or a valid signature for this method and path. */
type Authorize = (request: FileRequest, method: string) => void;

export function fileRoutes(deps: FileRouteDeps) {
  return async (app: FastifyInstance, helpers: HttpHelpers): Promise<void> => {
    const authorize: Authorize = (request, method) => {
      if (helpers.isAuthorized(request)) return;
      const { id } = request.params;
      const { path = '', expires, signature } = request.query;
      if (!deps.signer.verify(method, id, path, expires, signature)) {
        throw new AgentError('AUTH_FAILED', 'unauthorized');
      }
    };
    app.get<{ Params: Params; Querystring: Query }>(FILE_CONTENT_ROUTE, (request, reply) =>
      download(deps, authorize, request, reply).catch((err: unknown) => fail(reply, err)),
    );
    // The upload route keeps the body as a stream: its own content-type parser passes the request through
    // instead of buffering it like /api/command does.
    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
      scope.put<{ Params: Params; Querystring: Query }>(FILE_CONTENT_ROUTE, (request, reply) =>
        upload(deps, authorize, request, reply).catch((err: unknown) => fail(reply, err)),
      );
    });
  };
}

/** A failure before the status line went out, in the resource policy's wire shape (404, 403, 413…). */
function fail(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body } = httpError(err, 'resource');
  return reply.code(status).send(body);
}

/** GET (and HEAD): the whole file or one range of it, straight from the sandbox's handle to the socket. */
async function download(
  deps: FileRouteDeps,
  authorize: Authorize,
  request: FileRequest,
  reply: FastifyReply,
): Promise<FastifyReply | undefined> {
  authorize(request, 'GET');
  const server = deps.registry.resolve(request.params.id);
  // The sandbox opens it: denylist on the resolved path, regular files only, never a FIFO or device.
  const file = await deps.access.files(server).openForDownload(request.query.path ?? '');
  const { st, name } = file;
  const range = parseRange(request.headers.range, st.size);
  if (range === 'invalid') {
    await file.close();
    return reply
      .code(416)
      .header('content-range', `bytes */${st.size}`)
      .send(httpErrorBody(new AgentError('BAD_REQUEST', 'unsatisfiable range')));
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? st.size - 1;
  reply
    .code(range ? 206 : 200)
    .header('content-type', 'application/octet-stream')
    .header('accept-ranges', 'bytes')
    .header('content-length', String(Math.max(0, end - start + 1)))
    .header('last-modified', st.mtime.toUTCString())
    .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`);
  if (range) reply.header('content-range', `bytes ${start}-${end}/${st.size}`);
  if (st.size === 0) {
    await file.close();
    return reply.send('');
  }
  // The body goes straight to the socket from two reused buffers (send-range.ts) instead of through
  // reply.send(stream), which would need a fresh buffer per read. The headers Fastify holds (the security
  // headers of the onRequest hook included) go out with it.
  reply.hijack();
  reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
  if (request.method === 'HEAD') {
    await file.close();
    reply.raw.end();
    return;
  }
  await file.send(start, end, reply.raw).catch((err: unknown) => {
    // The status line is gone: a failure can only cut the response, which the client sees as short.
    reply.raw.destroy();
    request.log.debug({ err }, 'download ended early');
  });
}

/** PUT: the body streamed into a temporary file beside the target, bounded as it flows, then renamed into place. */
async function upload(
  deps: FileRouteDeps,
  authorize: Authorize,
  request: FileRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  authorize(request, 'PUT');
  const server = deps.registry.resolve(request.params.id);
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  const cap = deps.access.config.streamUploadMaxBytes;
  if (declared > cap) throw new AgentError('FILE_TOO_LARGE', `the upload is larger than ${cap} bytes`);
  const body = (request.body ?? request.raw) as Readable;
  // The bound is enforced while the body flows: the disk limit's headroom (a chunked body has no length).
  const data = await deps.access.files(server).writeAtomic(
    request.query.path,
    'path',
    async (handle, headroom) => {
      if (declared > headroom) throw diskLimit(declared, headroom);
      const bound = Math.min(cap, headroom);
      return writeBody(
        body,
        handle.fd,
        bound,
        () =>
          bound < cap
            ? diskLimit(bound + 1, headroom)
            : new AgentError('FILE_TOO_LARGE', `the upload is larger than ${cap} bytes`),
        // The request body is read by nothing else, so its chunks' memory is freed as it reaches the disk.
        { ownsChunks: true },
      );
    },
    // No fsync before the rename: a multi-GB world upload would wait on the disk for seconds, and the
    // rename still never exposes a half-written file (bench/files.mjs compares with Go's net/http).
    { fsync: false },
  );
  return reply.send({ success: true, data });
}
