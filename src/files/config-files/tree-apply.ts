import { nextValue, type Replacement, type Resolve, type Scalar, splitPathWithLists } from './rules.js';

/**
 * Applies replacements to a tree of maps and lists (JSON, TOML, the YAML document): one walk shared by the
 * formats, each giving its node operations. `*` visits every element of a list or every key of a map; a missing
 * map on the way is created for an unconditional rule (Wings sets a path that does not exist yet), never under a
 * `*` that matched nothing and never through a scalar.
 */
export interface TreeOps<N> {
  /** The keys of a map or the indices of a list; undefined for a scalar. */
  keys(node: N): string[] | undefined;
  /** The child at `key`, or undefined when there is none. */
  child(node: N, key: string): { node: N } | undefined;
  /** The value of a scalar child, for conditions and typing; undefined for a map or list. */
  scalar(node: N): Scalar | undefined;
  /** Writes `value` at `key` (a list only takes an index it has, or the next one). */
  set(parent: N, key: string, value: Scalar): void;
  /** A new, empty map (or list) at `key`. Undefined where none can be made (a list, past its end). */
  makeMap(parent: N, key: string, list: boolean): N | undefined;
}

export function isListIndex(key: string, length: number): boolean {
  return /^(0|[1-9]\d*)$/.test(key) && Number(key) <= length;
}

export function applyTree<N>(root: N, replacements: Replacement[], resolve: Resolve, ops: TreeOps<N>): void {
  for (const rule of replacements) {
    const { segments, lists } = splitPathWithLists(rule.path);
    visit(root, segments, lists, 0, rule, resolve, ops);
  }
}

function visit<N>(
  node: N,
  segments: string[],
  lists: Set<number>,
  at: number,
  rule: Replacement,
  resolve: Resolve,
  ops: TreeOps<N>,
) {
  const key = segments[at] as string;
  const last = at === segments.length - 1;
  const keys = key === '*' ? ops.keys(node) : [key];
  if (!keys) return;
  for (const k of keys) {
    const child = ops.child(node, k);
    if (last) {
      if (child && ops.keys(child.node) !== undefined) continue; // never replace a whole map or list
      const value = nextValue(rule, child ? ops.scalar(child.node) : undefined, resolve);
      if (value !== undefined) ops.set(node, k, value);
      continue;
    }
    if (child) {
      if (ops.keys(child.node) !== undefined) visit(child.node, segments, lists, at + 1, rule, resolve, ops);
      continue;
    }
    if (rule.ifValue !== undefined || key === '*') continue;
    // `listeners[0].host` in a file without listeners makes a list; `a.0.b` makes a map, as sjson does.
    const made = ops.makeMap(node, k, lists.has(at + 1) && segments[at + 1] === '0');
    if (made !== undefined) visit(made, segments, lists, at + 1, rule, resolve, ops);
  }
}

/** Plain parsed data (JSON.parse, smol-toml): objects are maps, arrays lists, anything else a scalar. */
export function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Own properties only, defined (not assigned) so a key named `__proto__` is data, not a prototype. */
function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

export function plainOps(toScalar: (value: unknown) => Scalar | undefined): TreeOps<unknown> {
  return {
    keys: (node) => {
      if (Array.isArray(node)) return node.map((_, i) => String(i));
      return isPlainMap(node) ? Object.keys(node) : undefined;
    },
    child: (node, key) => {
      if (Array.isArray(node)) return isListIndex(key, node.length - 1) ? { node: node[Number(key)] } : undefined;
      if (isPlainMap(node) && Object.hasOwn(node, key)) return { node: node[key] };
      return undefined;
    },
    scalar: (node) => (Array.isArray(node) || isPlainMap(node) ? undefined : toScalar(node)),
    set: (parent, key, value) => {
      if (Array.isArray(parent)) {
        if (isListIndex(key, parent.length)) parent[Number(key)] = value;
      } else if (isPlainMap(parent)) define(parent, key, value);
    },
    makeMap: (parent, key, list) => {
      const made = list ? [] : {};
      if (Array.isArray(parent) && isListIndex(key, parent.length)) parent[Number(key)] = made;
      else if (isPlainMap(parent)) define(parent, key, made);
      else return undefined;
      return made;
    },
  };
}
