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

export function fileActions(access: FileAccess, signer: UrlSigner): ActionDefinition[] {
  const files = (server: Parameters<FileAccess['files']>[0]) => access.files(server);
  const guard = (server: Server, ...paths: [unknown, string][]) => {
    for (const [p, field] of paths) access.checkAllowed(server, p, field);
  };
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
        return { data: await files(server).list(p.path) };
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
        const result = await files(server).search(p.path, p.query, p.fileType ?? 'all');
        return { data: { ...result, query: p.query } };
      },
    }),
    defineAction({
      name: 'read_file',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ path: anyPath, encoding: encodingField }),
      async run({ server }, p) {
        guard(server, [p.path, 'path']);
        const { path, bytes, modified } = await files(server).read(p.path);
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
          return { data: await files(server).write(p.path, decodeContent(p.content, p.encoding)) };
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
        const { path, bytes, modified } = await files(server).read(
          p.path,
          access.config.downloadMaxBytes,
          'download_file',
        );
        return { data: { path, content: bytes.toString('base64'), encoding: 'base64', size: bytes.length, modified } };
      },
    }),
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
    defineAction({
      name: 'rename_file',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ oldPath: anyPath, newPath: anyPath }),
      async run({ server }, p) {
        guard(server, [p.oldPath, 'oldPath'], [p.newPath, 'newPath']);
        const { from, to } = await files(server).move(p.oldPath, p.newPath, ['oldPath', 'newPath']);
        return { data: { oldPath: from, newPath: to } };
      },
    }),
    defineAction({
      name: 'move_file',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ sourcePath: anyPath, destinationPath: anyPath }),
      async run({ server }, p) {
        guard(server, [p.sourcePath, 'sourcePath'], [p.destinationPath, 'destinationPath']);
        const { from, to } = await files(server).move(p.sourcePath, p.destinationPath, [
          'sourcePath',
          'destinationPath',
        ]);
        return { data: { sourcePath: from, destinationPath: to } };
      },
    }),
    defineAction({
      name: 'copy_file',
      scope: 'server',
      mode: 'bg',
      payload: z.object({ sourcePath: anyPath, destinationPath: anyPath }),
      async run({ server }, p) {
        guard(server, [p.sourcePath, 'sourcePath'], [p.destinationPath, 'destinationPath']);
        return {
          data: await access.background(server, 'copy_file', () => files(server).copy(p.sourcePath, p.destinationPath)),
        };
      },
    }),
    defineAction({
      name: 'get_file_info',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ path: anyPath }),
      async run({ server }, p) {
        return { data: { ...(await files(server).fileInfo(p.path)) } };
      },
    }),
    defineAction({
      name: 'get_file_permissions',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ path: anyPath }),
      async run({ server }, p) {
        const info = await files(server).fileInfo(p.path);
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
        return { data: await files(server).setPermissions(p.path, parseMode(p.mode ?? p.permissions)) };
      },
    }),
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
        return {
          data: await access.background(server, 'create_archive', () =>
            access.archiver(server).create(p.files, p.archivePath, format),
          ),
        };
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
        return {
          data: await access.background(server, 'extract_archive', async () => ({
            ...(await access.archiver(server).extract(p.archivePath, p.extractPath)),
          })),
        };
      },
    }),
  ];
}
