import { type Rewriter, replacementsOf, type Scalar } from './rules.js';
import { applyTree, plainOps } from './tree-apply.js';

/**
 * TOML through smol-toml (BSD-3-Clause, no dependencies). Trade-off, said plainly: smol-toml does not keep
 * comments or layout, and no maintained TOML library for Node does (a span editor over a concrete syntax tree
 * would, at the cost of a TOML grammar of our own). Values, their types and key order survive; comments and
 * blank lines of a TOML config file do not. Wings has the same limitation (go-toml re-marshals the file).
 *
 * Types: integers are read as bigints and floats as numbers, and written with `numbersAsFloat`, so `1.0` stays a
 * float and `25565` an integer. A literal integer from the egg over a float stays a float; elsewhere an integral
 * number becomes a TOML integer. TOML has no null: a null value is not written.
 */
function toScalar(value: unknown): Scalar | undefined {
  if (['string', 'number', 'bigint', 'boolean'].includes(typeof value)) return value as Scalar;
  if (value instanceof Date) return value.toISOString();
  return undefined;
}

export const rewriteToml: Rewriter = async (text, find, resolve) => {
  const toml = await import('smol-toml');
  const root = toml.parse(text ?? '', { integersAsBigInt: true }) as Record<string, unknown>;
  const base = plainOps(toScalar);
  applyTree<unknown>(root, replacementsOf(find), resolve, {
    ...base,
    set: (parent, key, value) => {
      if (value === null) return;
      const existing = base.child(parent, key)?.node;
      const asInteger = typeof value === 'number' && Number.isInteger(value) && typeof existing !== 'number';
      base.set(parent, key, asInteger ? BigInt(value) : value);
    },
  });
  return toml.stringify(root, { numbersAsFloat: true });
};
