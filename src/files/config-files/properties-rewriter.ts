import { nextValue, oneLine, type Rewriter, replacementsOf } from './rules.js';

/**
 * Java `.properties` through properties-file's lossless editor (MIT, no dependencies): comments, blank lines,
 * key order, separators and continuation lines of untouched keys survive, and a replaced key keeps its place
 * (Wings keeps only the comments at the head of the file). A path is the whole key (`server-port`, dots
 * included); `*` matches every key. Values are written with non-ASCII characters as `\uXXXX`, as Wings does
 * since pterodactyl/panel#2308 (games read escaped sequences; some cannot read raw UTF-8). Missing keys are
 * appended as `key = value` (the editor's spacing). Loaded on first use.
 */
export const rewriteProperties: Rewriter = async (text, find, resolve) => {
  const { PropertiesEditor } = await import('properties-file/editor');
  const editor = new PropertiesEditor(text ?? '');
  for (const rule of replacementsOf(find)) {
    const keys = rule.path === '*' ? [...new Set(editor.getProperties().map((p) => p.key))] : [rule.path];
    for (const key of keys) {
      const current = editor.getEffectiveProperty(key)?.value;
      const value = nextValue(rule, current, resolve);
      if (value === undefined) continue;
      const written = typeof value === 'boolean' ? String(value) : oneLine(value);
      // After the last key, not after the file's trailing blank line.
      const lastKey = editor.getProperties().at(-1)?.key;
      if (current === undefined) {
        editor.insert(key, written, {
          escapeUnicode: true,
          separator: '=',
          ...(lastKey ? { referenceKey: lastKey } : {}),
        });
      } else editor.update(key, { newValue: written, escapeUnicode: true });
    }
  }
  const out = editor.format();
  return out === '' || out.endsWith('\n') ? out : `${out}${editor.eolCharacter}`;
};
