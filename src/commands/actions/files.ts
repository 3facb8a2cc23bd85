import { z } from 'zod';
import { AgentError } from '../../errors.js';
import { type ArchiveFormat, formatFromName } from '../../files/archive-formats.js';
import { displayPath, toSegments } from '../../files/path-rules.js';
import type { UrlSigner } from '../../protocol/signed-url.js';
import type { FileAccess } from '../../servers/file-access.js';
import type { Server } from '../../servers/server.js';
import { type ActionDefinition, defineAction } from '../dispatcher.js';

/** File actions (PROTOCOL.md §4.4). Paths are jailed by the file sandbox; these modules only shape I/O. */

const anyPath = z.unknown();
// A flat character class (no nested groups): linear on megabytes of upload, where a grouped pattern overflows
// the regex engine's stack. The length check completes the strictness.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64 only when asked for; otherwise content is UTF-8 text and base64 is never guessed. */
export function decodeContent(content: string, encoding: string | undefined): Buffer {
  if (encoding === 'base64') {
    const compact = content.replace(/\s+/g, '');
    if (compact.length % 4 !== 0 || !BASE64_CHARS.test(compact)) {
      throw new AgentError('INVALID_PAYLOAD', 'content: not valid base64');
    }
    return Buffer.from(compact, 'base64');
  }
  return Buffer.from(content, 'utf8');
}

/** A chmod mode: an octal string of 3-4 digits, or a JSON number read by its digits (755 → "755"). */
export function parseMode(raw: unknown): number {
  const text = typeof raw === 'number' && Number.isInteger(raw) ? String(raw) : raw;
  if (typeof text !== 'string' || !/^[0-7]{3,4}$/.test(text)) {
    throw new AgentError('INVALID_PAYLOAD', 'mode: must be 3 or 4 octal digits, such as "644"');
  }
  const mode = Number.parseInt(text, 8);
  if (mode & 0o6000) throw new AgentError('INVALID_PAYLOAD', 'mode: setuid and setgid are not allowed');
  return mode;
}

const encodingField = z.enum(['utf8', 'utf-8', 'base64']).optional();

/** Refuses paths the denylist names, field by field, before any work (the sandbox checks the resolved path too). */
type Guard = (server: Server, ...paths: [unknown, string][]) => void;

/**
 * Every file action, in groups by what they do: browse, move content in and out of JSON, change the tree, read and
 * set metadata, archive. The groups keep the actions in the order the OpenAPI document lists them.
 */
export function fileActions(access: FileAccess, signer: UrlSigner): ActionDefinition[] {
  const guard: Guard = (server, ...paths) => {
    for (const [p, field] of paths) access.checkAllowed(server, p, field);
  };
  return [
    ...browseActions(access, signer, guard),
    ...contentActions(access, guard),
    ...treeActions(access, guard),
    ...metadataActions(access, guard),
    ...archiveActions(access, guard),
  ];
}

/** A signed URL for a browser's own transfer, listings and search. */
function browseActions(access: FileAccess, signer: UrlSigner, guard: Guard): ActionDefinition[] {
  return [
    defineAction({
      name: 'get_file_url',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ path: anyPath, method: z.enum(['GET', 'PUT']).default('GET') }),
      async run({ server }, p) {
        guard(server, [p.path, 'path']);
        const display = displayPath(toSegments(p.path));
        const ttl = access.config.signedUrlTtlSeconds;
        const url = signer.sign(p.method, server.id, display, ttl);
        return {
          data: { path: display, method: p.method, url, expiresAt: new Date(Date.now() + ttl * 1000).toISOString() },
        };
      },
    }),
    defineAction({
      name: 'list_files',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ path: anyPath.default('/') }),
      async run({ server }, p) {
        return { data: await access.files(server).list(p.path) };
      },
    }),
    defineAction({
      name: 'search_files',
      scope: 'server',
      mode: 'sync',
      payload: z.object({
        path: anyPath.default('/'),
        query: z.string().min(1).max(255),
        fileType: z.enum(['file', 'directory', 'all']).optional(),
      }),
      async run({ server }, p) {
        const result = await access.files(server).search(p.path, p.query, p.fileType ?? 'all');
        return { data: { ...result, query: p.query } };
      },
    }),
  ];
}

/** A whole file's content inside the JSON of a command: read as text or base64, written, downloaded. */
function contentActions(access: FileAccess, guard: Guard): ActionDefinition[] {
  return [
    defineAction({
      name: 'read_file',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ path: anyPath, encoding: encodingField }),
      async run({ server }, p) {
        guard(server, [p.path, 'path']);
        const { path, bytes, modified } = await access.files(server).read(p.path);
        const base64 = p.encoding === 'base64';
        // Invalid UTF-8 is replaced, never an error: game configs are sometimes Latin-1.
        const content = base64 ? bytes.toString('base64') : new TextDecoder('utf-8').decode(bytes);
        return { data: { path, content, size: bytes.length, modified, encoding: base64 ? 'base64' : 'utf8' } };
      },
    }),
    ...(['write_file', 'upload_file'] as const).map((name) =>
      defineAction({
        name,
        scope: 'server',
        mode: 'sync',
        payload: z.object({ path: anyPath, content: z.string(), encoding: encodingField }),
        async run({ server }, p) {
          guard(server, [p.path, 'path']);
          return { data: await access.files(server).write(p.path, decodeContent(p.content, p.encoding)) };
        },
      }),
    ),
    defineAction({
      name: 'download_file',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ path: anyPath }),
      async run({ server }, p) {
        guard(server, [p.path, 'path']);
        const { downloadMaxBytes } = access.config;
        const { path, bytes, modified } = await access.files(server).read(p.path, downloadMaxBytes, 'download_file');
        return { data: { path, content: bytes.toString('base64'), encoding: 'base64', size: bytes.length, modified } };
      },
    }),
  ];
}

/** The two names of a move and what each calls its two ends (PROTOCOL.md §4.4); the reply echoes those fields. */
const MOVES = [
  ['rename_file', 'oldPath', 'newPath'],
  ['move_file', 'sourcePath', 'destinationPath'],
] as const;

/** New directories, deletes, moves (one operation under two names) and copies, which may outlast the request. */
function treeActions(access: FileAccess, guard: Guard): ActionDefinition[] {
  const files = (server: Server) => access.files(server);
  return [
    // Single-path actions whose reply is the operation's own result.
    ...(
      [
        ['create_directory', (server: Server, path: unknown) => files(server).createDirectory(path)],
        ['delete_file', (server: Server, path: unknown) => files(server).delete(path)],
      ] as const
    ).map(([name, op]) =>
      defineAction({
        name,
        scope: 'server',
        mode: 'sync',
        payload: z.object({ path: anyPath }),
        async run({ server }, p) {
          guard(server, [p.path, 'path']);
          return { data: await op(server, p.path) };
        },
      }),
    ),
    ...MOVES.map(([name, fromField, toField]) =>
      defineAction({
        name,
        scope: 'server',
        mode: 'sync',
        payload: z.object({ [fromField]: anyPath, [toField]: anyPath }),
        async run({ server }, p) {
          guard(server, [p[fromField], fromField], [p[toField], toField]);
          const { from, to } = await files(server).move(p[fromField], p[toField], [fromField, toField]);
          return { data: { [fromField]: from, [toField]: to } };
        },
      }),
    ),
    defineAction({
      name: 'copy_file',
      scope: 'server',
      mode: 'bg',
      payload: z.object({ sourcePath: anyPath, destinationPath: anyPath }),
      async run({ server }, p) {
        guard(server, [p.sourcePath, 'sourcePath'], [p.destinationPath, 'destinationPath']);
        const copy = () => files(server).copy(p.sourcePath, p.destinationPath);
        return { data: await access.background(server, 'copy_file', copy) };
      },
    }),
  ];
}

/** One path's metadata: all of it, its permissions and owner, and chmod. */
function metadataActions(access: FileAccess, guard: Guard): ActionDefinition[] {
  return [
    defineAction({
      name: 'get_file_info',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ path: anyPath }),
      async run({ server }, p) {
        return { data: { ...(await access.files(server).fileInfo(p.path)) } };
      },
    }),
    defineAction({
      name: 'get_file_permissions',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ path: anyPath }),
      async run({ server }, p) {
        const info = await access.files(server).fileInfo(p.path);
        return { data: { path: info.path, permissions: info.permissions, owner: info.owner, group: info.group } };
      },
    }),
    defineAction({
      name: 'set_file_permissions',
      scope: 'server',
      mode: 'sync',
      // The panel's route calls it `permissions` but sends `mode` (PROTOCOL.md §8 quirk 4): accept both.
      payload: z.object({ path: anyPath, mode: z.unknown().optional(), permissions: z.unknown().optional() }),
      async run({ server }, p) {
        guard(server, [p.path, 'path']);
        return { data: await access.files(server).setPermissions(p.path, parseMode(p.mode ?? p.permissions)) };
      },
    }),
  ];
}

/** Archives made and unpacked in the background (bg mode), through the sandbox's Archiver. */
function archiveActions(access: FileAccess, guard: Guard): ActionDefinition[] {
  return [
    defineAction({
      name: 'create_archive',
      scope: 'server',
      mode: 'bg',
      payload: z.object({
        files: z.array(z.unknown()).min(1).max(10_000),
        archivePath: anyPath,
        format: z.enum(['zip', 'tar', 'tar.gz', 'tgz']).optional(),
      }),
      async run({ server }, p) {
        guard(server, [p.archivePath, 'archivePath']);
        const requested = p.format === 'tgz' ? 'tar.gz' : p.format;
        const format: ArchiveFormat = requested ?? formatFromName(String(p.archivePath)) ?? 'zip';
        const create = () => access.archiver(server).create(p.files, p.archivePath, format);
        return { data: await access.background(server, 'create_archive', create) };
      },
    }),
    defineAction({
      name: 'extract_archive',
      scope: 'server',
      mode: 'bg',
      // The panel validates `format` and then drops it (§8 quirk 5): the format is sniffed.
      payload: z.object({ archivePath: anyPath, extractPath: anyPath.default('/') }),
      async run({ server }, p) {
        guard(server, [p.archivePath, 'archivePath'], [p.extractPath, 'extractPath']);
        const extract = async () => ({ ...(await access.archiver(server).extract(p.archivePath, p.extractPath)) });
        return { data: await access.background(server, 'extract_archive', extract) };
      },
    }),
  ];
}
