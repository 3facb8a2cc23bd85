import { AgentError } from '../../errors.js';
import type { ServerFiles } from '../server-files.js';
import { REWRITERS } from './rewriters.js';
import type { ConfigFileRule } from './rules.js';
import { type TemplateContext, templateResolver } from './template-resolver.js';

/**
 * The config-file step before every start (PROTOCOL.md §4.6): each file is read through the sandbox, rewritten
 * by its format's rewriter and replaced atomically, owned by the game's user (ServerFiles.write). The sandbox
 * refuses what the game may have planted: a symlink that resolves outside the directory, a denylisted path, a
 * FIFO or device, a file past `maxBytes`. Such a file, and one that does not parse, is skipped with its reason;
 * the server still starts with the file as it was. A file whose rewrite changes nothing is not written again.
 */
export interface ApplyLimits {
  /** Files handled per start; the rest are skipped. */
  maxFiles: number;
  /** Bytes read and written per file (files.readMaxBytes). */
  maxBytes: number;
}

export interface ApplyResult {
  /** Files that now hold the values (written, or already holding them). */
  written: string[];
  skipped: { path: string; reason: string }[];
  /** Templates that did not resolve, once each. */
  warnings: string[];
}

export const DEFAULT_MAX_CONFIG_FILES = 32;

function reasonOf(err: unknown): string {
  if (err instanceof AgentError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

async function readCurrent(files: ServerFiles, path: string, maxBytes: number): Promise<string | undefined> {
  try {
    return (await files.read(path, maxBytes, 'a config file rewrite')).bytes.toString('utf8');
  } catch (err) {
    if (err instanceof AgentError && err.code === 'FILE_NOT_FOUND') return undefined;
    throw err;
  }
}

export async function applyConfigFiles(
  files: ServerFiles,
  rules: readonly ConfigFileRule[],
  context: TemplateContext,
  limits: ApplyLimits,
): Promise<ApplyResult> {
  const result: ApplyResult = { written: [], skipped: [], warnings: [] };
  const resolve = templateResolver(context, (message) => result.warnings.push(message));
  for (const [index, rule] of rules.entries()) {
    if (index >= limits.maxFiles) {
      result.skipped.push({ path: rule.path, reason: `more than ${limits.maxFiles} config files; not rewritten` });
      continue;
    }
    let current: string | undefined;
    try {
      current = await readCurrent(files, rule.path, limits.maxBytes);
    } catch (err) {
      result.skipped.push({ path: rule.path, reason: reasonOf(err) });
      continue;
    }
    let next: string;
    try {
      next = await REWRITERS[rule.parser](current, rule.find, resolve);
    } catch (err) {
      result.skipped.push({ path: rule.path, reason: `${rule.path} is not valid ${rule.parser}: ${reasonOf(err)}` });
      continue;
    }
    const bytes = Buffer.from(next, 'utf8');
    if (bytes.length > limits.maxBytes) {
      result.skipped.push({ path: rule.path, reason: `the rewritten file would be over ${limits.maxBytes} bytes` });
      continue;
    }
    if (next === current) {
      result.written.push(rule.path);
      continue;
    }
    try {
      await files.write(rule.path, bytes);
      result.written.push(rule.path);
    } catch (err) {
      result.skipped.push({ path: rule.path, reason: reasonOf(err) });
    }
  }
  return result;
}
