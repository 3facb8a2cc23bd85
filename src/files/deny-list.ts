import { createRequire } from 'node:module';
import type picomatchType from 'picomatch';
import { AgentError } from '../errors.js';

/**
 * The file denylist (node-wide `files.denylist` and a server's own `denylist`, egg `file_denylist`), matched on
 * root-relative paths with picomatch (braces, classes, extglobs, `**`) in the conventions eggs are written for
 * under Wings' gitignore-style matching:
 *  - a pattern without a `/` matches a name at any depth (`*.key`, `license.txt`);
 *  - a pattern with a `/` is anchored at the server root (a leading `/` is optional);
 *  - `dir/**` covers `dir` itself as well as everything below it;
 *  - a path is denied when it or any of its ancestors is denied (a denied directory protects its contents);
 *  - patterns apply in order and the last one that matches decides, so `!keep.key` re-allows a name.
 *
 * The sandbox checks it on the lexical and on the resolved path of every operation and on every entry a
 * recursive operation touches (jail.ts, server-files.ts, tree-ops.ts, archive-plan.ts): callers never check it
 * themselves.
 */

type Matcher = (path: string) => boolean;

interface Rule {
  pattern: string;
  negated: boolean;
  test: Matcher;
}

// picomatch is tiny but only hosts with a denylist need it: loaded on the first pattern.
let picomatch: typeof picomatchType | undefined;
function loadPicomatch(): typeof picomatchType {
  picomatch ??= createRequire(import.meta.url)('picomatch') as typeof picomatchType;
  return picomatch;
}

function compile(raw: string): Rule | undefined {
  let pattern = raw.trim();
  if (pattern === '' || pattern.startsWith('#')) return undefined;
  const negated = pattern.startsWith('!');
  if (negated) pattern = pattern.slice(1);
  pattern = pattern.replace(/^\/+/, '').replace(/\/+$/, '');
  if (pattern === '') return undefined;
  const anchored = pattern.includes('/');
  const test = loadPicomatch()(pattern, { dot: true, basename: !anchored, nobrace: false });
  return { pattern: raw, negated, test };
}

export class DenyList {
  private readonly rules: Rule[];

  constructor(...patternLists: readonly (readonly string[])[]) {
    this.rules = patternLists.flat().flatMap((p) => compile(p) ?? []);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The last rule that matches exactly this path decides; undefined when none does. */
  private decide(relative: string): Rule | undefined {
    let decided: Rule | undefined;
    for (const rule of this.rules) if (rule.test(relative)) decided = rule;
    return decided;
  }

  /** Refuses with PERMISSION_DENIED when any of `candidates` (root-relative segments) is denied. */
  assertAllowed(field: string, shown: string, ...candidates: readonly (readonly string[])[]): void {
    for (const segments of candidates) {
      const pattern = this.deniedBy(segments);
      if (pattern !== undefined) {
        throw new AgentError('PERMISSION_DENIED', `${field}: ${shown} is on the file denylist (${pattern})`);
      }
    }
  }

  /** The pattern that denies `segments` (root-relative) or one of its ancestors; undefined when allowed. */
  deniedBy(segments: readonly string[]): string | undefined {
    if (this.rules.length === 0 || segments.length === 0) return undefined;
    for (let i = 1; i <= segments.length; i++) {
      const rule = this.decide(segments.slice(0, i).join('/'));
      if (rule && !rule.negated) return rule.pattern;
    }
    return undefined;
  }
}
