import fc from 'fast-check';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { rewriteJson } from '../../../../src/files/config-files/json-rewriter.js';
import { parseBool, type Rewriter } from '../../../../src/files/config-files/rules.js';
import { rewriteToml } from '../../../../src/files/config-files/toml-rewriter.js';
import { rewriteYaml } from '../../../../src/files/config-files/yaml-rewriter.js';

/**
 * For any generated document (nested maps and lists of generated keys and typed scalars, with comments where
 * the format has them) and a `find` map over existing and new keys: the output parses with the format's own
 * parser, holds every new value with its type, and keeps every other value (and the comments, for YAML).
 * Keys are lower-case and start with a letter (JavaScript orders integer-like keys first; see json-rewriter.ts);
 * new paths start with an upper-case `N`, so they never meet an existing key.
 */
const key = fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/);
const text = fc
  .oneof(
    fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ':', '#', '"', "'", '\\', '{', '-', '§', '😀'), maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    // Strings the rules read as another type over an existing value (Go's ParseBool spellings over a boolean, a
    // number over a number) are typed on purpose; rules.test.ts covers them. Here a string must stay a string.
  )
  .filter((s) => parseBool(s) === undefined && (s.trim() === '' || Number.isNaN(Number(s))));
const safeInt = fc.integer({ min: -1e9, max: 1e9 });
const fraction = fc
  .double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })
  .filter((n) => !Number.isInteger(n));

function treeOf(scalar: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  const { node } = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', maxDepth: 3 }, scalar, tie('map'), tie('list')),
    map: fc.dictionary(key, tie('node'), { maxKeys: 5 }),
    list: fc.array(tie('node'), { maxLength: 3 }),
  }));
  return fc.dictionary(key, node, { minKeys: 1, maxKeys: 6 }) as fc.Arbitrary<Record<string, unknown>>;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Every scalar leaf with its path (list elements by index). */
function leaves(node: unknown, prefix: string[] = []): { path: string[]; value: unknown }[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => leaves(v, [...prefix, String(i)]));
  if (isMap(node)) return Object.entries(node).flatMap(([k, v]) => leaves(v, [...prefix, k]));
  return prefix.length ? [{ path: prefix, value: node }] : [];
}

function at(node: unknown, path: string[]): unknown {
  return path.reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], node);
}

interface Case {
  doc: Record<string, unknown>;
  find: Record<string, unknown>;
  changed: Map<string, unknown>;
}

function cases(scalar: fc.Arbitrary<unknown>, value: fc.Arbitrary<unknown>): fc.Arbitrary<Case> {
  return treeOf(scalar).chain((doc) => {
    const existing = leaves(doc);
    return fc
      .record({
        picked: fc.subarray(existing, { maxLength: Math.min(6, existing.length) }),
        values: fc.array(value, { minLength: 12, maxLength: 12 }),
        fresh: fc.uniqueArray(fc.array(key, { minLength: 1, maxLength: 3 }), { maxLength: 4, selector: (p) => p[0] }),
      })
      .map(({ picked, values, fresh }) => {
        const find: Record<string, unknown> = {};
        const changed = new Map<string, unknown>();
        picked.forEach((leaf, i) => {
          find[leaf.path.join('.')] = values[i];
          changed.set(leaf.path.join('.'), values[i]);
        });
        fresh.forEach((path, i) => {
          const p = [`N${path[0]}`, ...path.slice(1)].join('.');
          find[p] = values[6 + i];
          changed.set(p, values[6 + i]);
        });
        return { doc, find, changed };
      });
  });
}

async function check(
  rewrite: Rewriter,
  c: Case,
  render: (doc: Record<string, unknown>) => string,
  parse: (text: string) => unknown,
  same: (a: unknown, b: unknown) => void = (a, b) => expect(a).toEqual(b),
) {
  const out = await rewrite(render(c.doc), c.find, (v) => v);
  const parsed = parse(out);
  for (const [path, value] of c.changed) same(at(parsed, path.split('.')), value);
  for (const leaf of leaves(c.doc)) {
    if (!c.changed.has(leaf.path.join('.'))) same(at(parsed, leaf.path), leaf.value);
  }
  return out;
}

describe('tree rewriters (property)', () => {
  it('json: values with their types, every other key kept', async () => {
    const scalar = fc.oneof(text, safeInt, fraction, fc.boolean(), fc.constant(null));
    await fc.assert(
      fc.asyncProperty(cases(scalar, scalar), async (c) => {
        await check(
          rewriteJson,
          c,
          (d) => JSON.stringify(d, null, 2),
          (t) => JSON.parse(t),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('yaml: values with their types, every other key and every comment kept', async () => {
    const scalar = fc.oneof(text, fc.integer(), fraction, fc.boolean(), fc.constant(null));
    // YAML's core schema has numbers, not int and float apart: `0e+0` read back is the number written.
    const num = (v: unknown) => (typeof v === 'bigint' ? Number(v) : v);
    await fc.assert(
      fc.asyncProperty(cases(scalar, scalar), async (c) => {
        let n = 0;
        const render = (d: Record<string, unknown>) =>
          stringifyYaml(d, { lineWidth: 0 })
            .split('\n')
            .map((line) => (line.trim() ? `# c${n++}\n${line}` : line))
            .join('\n');
        const out = await check(
          rewriteYaml,
          c,
          render,
          (t) => parseYaml(t, { intAsBigInt: true }),
          (a, b) => expect(num(a)).toEqual(num(b)),
        );
        for (let i = 0; i < n; i++) expect(out).toContain(`# c${i}\n`);
      }),
      { numRuns: 300 },
    );
  });

  it('yaml and json: a resolved string takes the type of the value it replaces', async () => {
    const doc = { a: 1, b: true, c: 'x', d: { e: 2.5 } };
    const find = { a: '30000', b: 'False', c: '7', 'd.e': '1e3', 'd.f': '5' };
    const expected = { a: 30000, b: false, c: '7', d: { e: 1000, f: '5' } };
    expect(JSON.parse(await rewriteJson(JSON.stringify(doc), find, (v) => v))).toEqual(expected);
    expect(parseYaml(await rewriteYaml(stringifyYaml(doc), find, (v) => v))).toEqual(expected);
  });

  it('toml: values with their types (integer, float, string, boolean), every other key kept', async () => {
    const int = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    const scalar = fc.oneof(text, int, fraction, fc.boolean());
    await fc.assert(
      fc.asyncProperty(cases(scalar, scalar), async (c) => {
        await check(
          rewriteToml,
          c,
          (d) => stringifyToml(d),
          (t) => parseToml(t, { integersAsBigInt: true }),
        );
      }),
      { numRuns: 300 },
    );
  });
});
