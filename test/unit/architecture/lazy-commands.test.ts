import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `doctor` and `diagnostics` load only for their own commands (commit b0251e7): doctor's port check imports
 * node:http as an ES module, which builds the module's namespace and loads Node's bundled undici, about 2 MB of
 * idle RSS in every running agent. So the static import graph of the program (which `run` goes through) must not
 * reach their modules, nor any module that imports node:http as an ES module (node:https does not load undici). Type-only imports
 * and `await import()` do not load anything and do not count.
 */
const VALUE_IMPORT = /^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm;
const ESM_HTTP = /^import\s+(?!type\b)[^;]*?from\s+'node:http'/m;

/** Every src module `entry` loads at once, following relative value imports (.js specifiers name .ts files). */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(VALUE_IMPORT)) {
      const specifier = (match[1] ?? match[2]) as string;
      if (!specifier.startsWith('.')) continue;
      const target = path.posix.join(path.posix.dirname(file), specifier).replace(/\.js$/, '.ts');
      if (existsSync(target)) queue.push(target);
    }
  }
  return seen;
}

describe('commands loaded on demand', () => {
  // bin.ts loads program.ts with import(); every start, `run` included, goes through both.
  const running = new Set([...staticClosure('src/cli/bin.ts'), ...staticClosure('src/cli/program.ts')]);
  // What doctor and diagnostics bring in of the CLI's own modules: all of it must stay out of the running agent.
  const onDemand = [
    ...new Set([...staticClosure('src/cli/doctor.ts'), ...staticClosure('src/cli/diagnostics.ts')]),
  ].filter((f) => f.startsWith('src/cli/'));

  it('sees the whole program: main.ts and the agent graph are in its static closure', () => {
    expect(running).toContain('src/main.ts');
    expect(running).toContain('src/docker/runtime.ts');
    expect(onDemand).toEqual(expect.arrayContaining(['src/cli/doctor.ts', 'src/cli/port-check.ts']));
  });

  it('keeps doctor and diagnostics out of the static import graph of the program', () => {
    expect(onDemand.filter((f) => running.has(f))).toEqual([]);
  });

  it('has no module in that graph importing node:http as an ES module', () => {
    expect([...running].filter((f) => ESM_HTTP.test(readFileSync(f, 'utf8')))).toEqual([]);
  });
});
