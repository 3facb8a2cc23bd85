import { nextValue, oneLine, type Rewriter, replacementsOf } from './rules.js';

/**
 * The `file` parser: a key is a line prefix and every line starting with it is replaced whole by the value
 * (Wings' text parser). A prefix that matches no line is appended as a line of its own, so a missing file is
 * created holding the value lines (PROTOCOL.md §4.6). A conditional rule compares the text after the prefix.
 * Where two prefixes match one line, the first rule wins.
 */
export const rewriteText: Rewriter = async (text, find, resolve) => {
  const eol = text?.includes('\r\n') ? '\r\n' : '\n';
  const lines = text === undefined || text === '' ? [] : text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const touched = new Set<number>();
  for (const rule of replacementsOf(find)) {
    if (rule.path === '') continue;
    let matched = false;
    lines.forEach((line, i) => {
      if (touched.has(i) || !line.startsWith(rule.path)) return;
      matched = true;
      const value = nextValue(rule, line.slice(rule.path.length), resolve);
      if (value === undefined) return;
      lines[i] = oneLine(value);
      touched.add(i);
    });
    if (matched || rule.ifValue !== undefined) continue;
    const value = nextValue(rule, undefined, resolve);
    if (value === undefined) continue;
    touched.add(lines.push(oneLine(value)) - 1);
  }
  return lines.length === 0 ? '' : `${lines.join(eol)}${eol}`;
};
