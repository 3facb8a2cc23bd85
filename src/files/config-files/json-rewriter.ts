import { type Rewriter, replacementsOf, type Scalar } from './rules.js';
import { applyTree, isPlainMap, plainOps } from './tree-apply.js';

/**
 * JSON through the engine's own parser. Numbers are kept as their source text (JSON.parse's source access and
 * JSON.rawJSON, Node 21+): a 19-digit id or a `1.0` would otherwise come back as a rounded double or `1`. Key
 * order survives except where JavaScript puts integer-like keys first; JSON has no comments. The indentation of
 * the file is kept (two spaces for a new one, none for a one-line file).
 */
interface RawJson {
  rawJSON(text: string): object;
  isRawJSON(value: unknown): boolean;
}
const J = JSON as unknown as JSON & RawJson;

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

const keepNumberText: Reviver = (_key, value, context) =>
  typeof value === 'number' && context?.source !== undefined && String(value) !== context.source
    ? J.rawJSON(context.source)
    : value;

function toScalar(value: unknown): Scalar | undefined {
  if (J.isRawJSON(value)) {
    const text = (value as { rawJSON: string }).rawJSON;
    return /^-?\d+$/.test(text) ? BigInt(text) : Number(text);
  }
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value as Scalar;
  return undefined;
}

function indentOf(text: string | undefined): string | number {
  if (text === undefined || text.trim() === '') return 2;
  const m = /\n([ \t]+)\S/.exec(text);
  if (m) return m[1] as string;
  return /\n\s*\S/.test(text.trim()) ? 2 : 0;
}

export const rewriteJson: Rewriter = async (text, find, resolve) => {
  const root: unknown =
    text === undefined || text.trim() === ''
      ? {}
      : JSON.parse(text, keepNumberText as Parameters<typeof JSON.parse>[1]);
  if (!isPlainMap(root) && !Array.isArray(root)) throw new Error('the document is not an object or an array');
  applyTree(root, replacementsOf(find), resolve, plainOps(toScalar));
  const out = JSON.stringify(
    root,
    (_key, value) => (typeof value === 'bigint' ? J.rawJSON(value.toString()) : value),
    indentOf(text),
  );
  return `${out}\n`;
};
