import {
  nextValue,
  oneLine,
  type Replacement,
  type Resolve,
  type Rewriter,
  replacementsOf,
  scalarText,
  splitPath,
} from './rules.js';

/**
 * XML through fast-xml-parser in its ordered mode, which round-trips comments, processing instructions, CDATA,
 * attribute order and the whitespace between elements. A path names elements from the root (`Settings.Port`),
 * every element of that name at each step (as Wings' etree paths do); `*` is any element, a last `@name` an
 * attribute. Wings' value form `[name='value']` sets an attribute too. A missing element path is created for an
 * unconditional rule without `*`. Loaded on first use.
 */
type XmlNode = Record<string, unknown> & { ':@'?: Record<string, string> };

const ATTR = '@_';
const TEXT = '#text';
const OPTIONS = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  commentPropName: '#comment',
  cdataPropName: '#cdata',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: false,
  ignorePiTags: false,
  suppressEmptyNode: true,
} as const;
const WINGS_ATTRIBUTE = /^\[(\w+)='(.*)'\]$/s;

function tagOf(node: XmlNode): string | undefined {
  return Object.keys(node).find((k) => k !== ':@' && !k.startsWith('#') && !k.startsWith('?'));
}
function childrenOf(node: XmlNode): XmlNode[] {
  const tag = tagOf(node);
  return tag ? (node[tag] as XmlNode[]) : [];
}
function elements(list: XmlNode[], name: string): XmlNode[] {
  return list.filter((n) => {
    const tag = tagOf(n);
    return tag !== undefined && (name === '*' || tag === name);
  });
}
function textOf(node: XmlNode): string {
  return childrenOf(node)
    .map((c) => (typeof c[TEXT] === 'string' ? c[TEXT] : ''))
    .join('');
}
function setText(node: XmlNode, text: string): void {
  const tag = tagOf(node) as string;
  const kept = childrenOf(node).filter((c) => !(TEXT in c) && !('#cdata' in c));
  node[tag] = [{ [TEXT]: text }, ...kept];
}

function apply(top: XmlNode[], rule: Replacement, resolve: Resolve): void {
  const segments = splitPath(rule.path);
  const last = segments[segments.length - 1] as string;
  const attribute = last.startsWith('@') ? last.slice(1) : undefined;
  const path = attribute === undefined ? segments : segments.slice(0, -1);
  if (path.length === 0) return;
  let found = elements(top, path[0] as string);
  if (found.length === 0 && rule.ifValue === undefined && path[0] !== '*' && elements(top, '*').length === 0) {
    const root: XmlNode = { [path[0] as string]: [] };
    top.push(root);
    found = [root];
  }
  for (const name of path.slice(1)) {
    const next = found.flatMap((n) => elements(childrenOf(n), name));
    if (next.length === 0 && rule.ifValue === undefined && !path.includes('*') && found[0]) {
      const made: XmlNode = { [name]: [] };
      childrenOf(found[0]).push(made);
      next.push(made);
    }
    found = next;
  }
  for (const element of found) {
    if (attribute !== undefined) {
      const attrs = element[':@'];
      const current = attrs?.[ATTR + attribute];
      const value = nextValue(rule, current, resolve);
      if (value !== undefined) element[':@'] = { ...attrs, [ATTR + attribute]: oneLine(value) };
      continue;
    }
    const value = nextValue(rule, textOf(element), resolve);
    if (value === undefined) continue;
    const wings = WINGS_ATTRIBUTE.exec(scalarText(value));
    if (wings) element[':@'] = { ...element[':@'], [ATTR + wings[1]]: wings[2] as string };
    else setText(element, scalarText(value));
  }
}

export const rewriteXml: Rewriter = async (text, find, resolve) => {
  const { XMLParser, XMLBuilder, XMLValidator } = await import('fast-xml-parser');
  const source = text ?? '';
  if (source.trim() !== '') {
    const valid = XMLValidator.validate(source);
    if (valid !== true) throw new Error(`line ${valid.err.line}: ${valid.err.msg}`);
  }
  const top = (source.trim() === '' ? [] : new XMLParser(OPTIONS).parse(source)) as XmlNode[];
  if (text === undefined || source.trim() === '') {
    top.push({ '?xml': [{ [TEXT]: '' }], ':@': { [`${ATTR}version`]: '1.0', [`${ATTR}encoding`]: 'utf-8' } });
  }
  for (const rule of replacementsOf(find)) apply(top, rule, resolve);
  const out = new XMLBuilder({ ...OPTIONS, format: source.trim() === '' }).build(top) as string;
  return out.endsWith('\n') ? out : `${out}\n`;
};
