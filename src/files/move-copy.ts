import { lstat, rename } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import type { Located } from './jail.js';
import { kindOf } from './safe-open.js';
import { type CopyHooks, copyTree } from './tree-ops.js';
import type { WalkLimits } from './tree-walk.js';

/**
 * rename_file, move_file and copy_file on paths ServerFiles has located (the source as it is, the destination
 * for creation) and checked against the denylist below the source.
 */

/** Whether the resolved `inner` lies in (or is) the resolved `outer`. */
function within(inner: string[], outer: string[]): boolean {
  return outer.length <= inner.length && outer.every((segment, i) => inner[i] === segment);
}

/** A destination must not exist yet and must not lie inside the source. */
async function assertDestination(src: Located, dst: Located, field: string, verb: 'move' | 'copy'): Promise<void> {
  if (await lstat(dst.at).catch(() => undefined)) {
    throw new AgentError('ALREADY_EXISTS', `${field}: ${dst.display} already exists`);
  }
  // Compared on resolved paths: `/link → /dir/sub` with link → dir is a copy of dir into itself.
  if (within(dst.real, src.real)) {
    throw new AgentError('INVALID_PATH', `${field}: cannot ${verb} ${src.display} into itself`);
  }
}

/** The source of a move: anything but the root, which must exist (not followed if it is a link). */
export async function assertMovable(src: Located, field: string): Promise<void> {
  if (!src.name) throw new AgentError('INVALID_PATH', `${field}: the server root cannot be moved`);
  await lstat(src.at);
}

export async function moveTo(src: Located, dst: Located, field: string): Promise<{ from: string; to: string }> {
  await assertDestination(src, dst, field, 'move');
  await rename(src.at, dst.at);
  return { from: src.display, to: dst.display };
}

/** The source of a copy: a regular file or a directory below the root. */
export async function assertCopyable(src: Located): Promise<void> {
  if (!src.name) throw new AgentError('INVALID_PATH', 'sourcePath: the server root cannot be copied');
  const st = await lstat(src.at);
  if (!st.isFile() && !st.isDirectory()) {
    throw new AgentError('INVALID_PATH', `sourcePath: ${src.display} is ${kindOf(st)}`);
  }
}

/** Recursive, binary-safe copy; links and special files are skipped and counted (tree-ops.ts). */
export async function copyTo(
  src: Located,
  dst: Located,
  hooks: CopyHooks,
  limits: WalkLimits,
): Promise<{ sourcePath: string; destinationPath: string; skipped: number }> {
  await assertDestination(src, dst, 'destinationPath', 'copy');
  const skipped = await copyTree(
    { parentFd: src.dir.fd, name: src.name, segments: src.real },
    { dirFd: dst.dir.fd, name: dst.name },
    hooks,
    limits,
  );
  return { sourcePath: src.display, destinationPath: dst.display, skipped };
}
