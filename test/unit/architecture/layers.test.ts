import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Layers point down only (STYLE.md, issue 14). A module may import from its own layer or any layer below it;
 * an import that points up fails here with the pair named. The sandbox (files) sits below the domain (servers):
 * it knows paths, handles and limits, nothing of servers, and the domain uses it (installs, config rewrites).
 */
const LAYERS: string[][] = [
  ['util', 'types', 'errors.ts', 'version.ts', 'lazy-modules.ts'],
  ['config', 'logging.ts', 'log-pretty.ts', 'log-policy.ts'],
  ['protocol'],
  ['docker'],
  ['events'],
  ['files'],
  ['servers'],
  ['metrics', 'mods'],
  ['commands'],
  ['api'],
  ['panel'],
  ['main.ts', 'agent'],
  ['cli'],
];
const RANK = new Map(LAYERS.flatMap((names, rank) => names.map((name) => [name, rank] as const)));

function areaOf(file: string): string {
  const [, first = ''] = file.split('/');
  return first.replace(/\.js$/, '.ts');
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const IMPORT = /^(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm;

describe('layers', () => {
  const files = sources('src').map((f) => f.split(path.sep).join('/'));

  it('knows the layer of every area in src', () => {
    const unknown = [...new Set(files.map(areaOf))].filter((area) => !RANK.has(area));
    expect(unknown).toEqual([]);
  });

  it('has no import from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), match[1] as string));
        const from = RANK.get(areaOf(file)) ?? -1;
        const to = RANK.get(areaOf(target)) ?? -1;
        if (to > from) upward.push(`${file} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
