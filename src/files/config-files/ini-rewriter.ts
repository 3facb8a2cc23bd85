import { nextValue, oneLine, type Rewriter, replacementsOf } from './rules.js';

/**
 * INI as lines, edited in place: only the value part of a matched `key = value` line changes, so comments (`;`,
 * `#`), blank lines, key order, duplicate keys and the file's own spacing around `=` survive. No maintained INI
 * library for Node keeps comments (`ini` and `js-ini` re-serialise from an object), and the format is line-based,
 * so this is a small editor with property tests (test/unit/files/config-files) instead of a parser.
 *
 * Paths as Wings reads them: the first `.` splits the section from the key (`network.server_port` is
 * `server_port` in `[network]`; further dots belong to the key), a path without a dot is a key before the first
 * section, and brackets quote a section name with dots (`[a.b].key`). `*` as the section or the key matches
 * every one. A missing key is added at the end of its section (a missing section at the end of the file), as
 * `key = value`.
 */
const SECTION = /^\s*\[([^\]]*)\]\s*(?:[;#].*)?$/;
const ENTRY = /^(\s*)([^=:;#\s[][^=:]*?)(\s*[=:]\s*)(.*)$/;

function splitIniPath(path: string): { section: string; key: string } {
  let depth = 0;
  let section: string | undefined;
  let current = '';
  for (const ch of path) {
    if (ch === '[') depth++;
    else if (ch === ']') depth = Math.max(0, depth - 1);
    else if (ch === '.' && depth === 0 && section === undefined) {
      section = current;
      current = '';
    } else current += ch;
  }
  return section === undefined ? { section: '', key: current } : { section, key: current };
}

interface Block {
  name: string;
  /** Index of the header line (-1 for the keys before the first section). */
  header: number;
  /** Index one past the last non-blank line of the block. */
  end: number;
}

function blocksOf(lines: string[]): Block[] {
  const blocks: Block[] = [{ name: '', header: -1, end: 0 }];
  lines.forEach((line, i) => {
    const m = SECTION.exec(line);
    if (m) blocks.push({ name: (m[1] as string).trim(), header: i, end: i + 1 });
    else if (line.trim() !== '') (blocks[blocks.length - 1] as Block).end = i + 1;
  });
  return blocks;
}

export const rewriteIni: Rewriter = async (text, find, resolve) => {
  const eol = text?.includes('\r\n') ? '\r\n' : '\n';
  const lines = text === undefined || text === '' ? [] : text.split(/\r?\n/);
  const trailing = lines.length > 0 && lines[lines.length - 1] === '';
  if (trailing) lines.pop();
  for (const rule of replacementsOf(find)) {
    const { section, key } = splitIniPath(rule.path);
    if (key === '') continue;
    const blocks = blocksOf(lines).filter((b) => section === '*' || b.name === section);
    let matched = false;
    // Edits never add or remove lines inside a block, so indices stay valid until an insertion below.
    for (const block of blocks) {
      for (let i = block.header + 1; i < block.end; i++) {
        const m = ENTRY.exec(lines[i] as string);
        if (!m || (key !== '*' && (m[2] as string).trim() !== key)) continue;
        matched = true;
        const value = nextValue(rule, m[4] as string, resolve);
        if (value !== undefined) lines[i] = `${m[1]}${m[2]}${m[3]}${oneLine(value)}`;
      }
    }
    if (matched || rule.ifValue !== undefined || key === '*' || section === '*') continue;
    const value = nextValue(rule, undefined, resolve);
    if (value === undefined) continue;
    const entry = `${key} = ${oneLine(value)}`;
    const block = blocks[0];
    if (block) lines.splice(block.end, 0, entry);
    else {
      if (lines.length > 0 && (lines[lines.length - 1] as string).trim() !== '') lines.push('');
      lines.push(`[${section}]`, entry);
    }
  }
  return `${lines.join(eol)}${eol}`;
};
