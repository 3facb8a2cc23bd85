import type { Document, Node as YamlNode } from 'yaml';
import { type Rewriter, replacementsOf, type Scalar } from './rules.js';
import { applyTree, isListIndex, type TreeOps } from './tree-apply.js';

/**
 * YAML through the `yaml` package's Document API, which keeps comments, key order, anchors, quoting style and
 * blank lines of everything the rules do not touch; a replaced scalar keeps its comments. Integers are read as
 * bigints so an id past 2^53 is written back digit for digit. Loaded on first use (idle memory).
 */
export const rewriteYaml: Rewriter = async (text, find, resolve) => {
  const yaml = await import('yaml');
  const doc = yaml.parseDocument(text ?? '', { intAsBigInt: true, uniqueKeys: false });
  if (doc.errors.length > 0) throw new Error(doc.errors[0]?.message ?? 'invalid YAML');
  if (doc.contents === null) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  const root = doc.contents as unknown as YamlNode;
  if (!yaml.isMap(root) && !yaml.isSeq(root)) throw new Error('the document is not a mapping or a sequence');

  const keyText = (key: unknown) => (yaml.isScalar(key) ? String(key.value) : String(key));
  const pairOf = (node: unknown, key: string) =>
    yaml.isMap(node) ? node.items.find((pair) => keyText(pair.key) === key) : undefined;
  const value = (node: unknown) => (yaml.isPair(node) ? node.value : node);
  const newNode = (d: Document, v: unknown) => d.createNode(v) as YamlNode;

  const ops: TreeOps<unknown> = {
    keys: (node) => {
      if (yaml.isMap(node)) return node.items.map((pair) => keyText(pair.key));
      if (yaml.isSeq(node)) return node.items.map((_, i) => String(i));
      return undefined;
    },
    child: (node, key) => {
      if (yaml.isMap(node)) {
        const pair = pairOf(node, key);
        return pair ? { node: pair.value } : undefined;
      }
      if (yaml.isSeq(node) && isListIndex(key, node.items.length - 1)) return { node: node.items[Number(key)] };
      return undefined;
    },
    scalar: (node) => {
      const v = value(node);
      if (v === null || v === undefined) return null;
      if (yaml.isScalar(v)) return v.value as Scalar;
      if (yaml.isAlias(v)) return null; // an alias is replaced, never written through
      return undefined;
    },
    set: (parent, key, v) => {
      if (yaml.isMap(parent)) {
        const pair = pairOf(parent, key);
        if (!pair) {
          parent.items.push(doc.createPair(key, v));
        } else if (yaml.isScalar(pair.value)) {
          // Same node: its comments stay. A format (hex, exponent) belongs to the old value only.
          if (typeof pair.value.value !== typeof v) pair.value.format = undefined;
          pair.value.value = v;
        } else {
          pair.value = newNode(doc, v);
        }
      } else if (yaml.isSeq(parent) && isListIndex(key, parent.items.length)) {
        const existing = parent.items[Number(key)];
        if (yaml.isScalar(existing)) existing.value = v;
        else parent.items[Number(key)] = newNode(doc, v);
      }
    },
    makeMap: (parent, key, list) => {
      const made = newNode(doc, list ? [] : {});
      if (yaml.isMap(parent)) parent.items.push(doc.createPair(key, made));
      else if (yaml.isSeq(parent) && isListIndex(key, parent.items.length)) parent.items[Number(key)] = made;
      else return undefined;
      return made;
    },
  };
  applyTree<unknown>(root, replacementsOf(find), resolve, ops);
  return doc.toString({ lineWidth: 0 });
};
