import fc from 'fast-check';
import { XMLParser } from 'fast-xml-parser';
import { parse as parseIni } from 'ini';
import { getProperties } from 'properties-file';
import { describe, expect, it } from 'vitest';
import { rewriteIni } from '../../../../src/files/config-files/ini-rewriter.js';
import { rewriteProperties } from '../../../../src/files/config-files/properties-rewriter.js';
import { rewriteText } from '../../../../src/files/config-files/text-rewriter.js';
import { rewriteXml } from '../../../../src/files/config-files/xml-rewriter.js';

/**
 * The line-oriented formats and XML: for any generated file with comments, and a `find` map over existing and
 * new keys, the output parses with the format's own parser (npm's `ini`, properties-file, fast-xml-parser),
 * holds the new values, keeps every other value and every comment. New keys start with an upper-case `N`.
 */
const key = fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/);
const id = (v: unknown) => v;
// `ini` reads quotes, `;`/`#` and edge spaces specially, so values stay plain for it to compare against.
const iniValue = fc.stringMatching(/^[A-Za-z0-9_./@§é-][A-Za-z0-9 _./@§é-]{0,10}[A-Za-z0-9_./@§é-]$/);
const anyText = fc.string({ unit: 'grapheme', maxLength: 12 });
const lit = (value: fc.Arbitrary<string>) => fc.oneof(value, fc.integer(), fc.boolean());

describe('line rewriters (property)', () => {
  it('ini: sections and root keys, values set, others and comments kept', async () => {
    const doc = fc.record({
      // `ini` puts root keys and sections in one object: apart by their first letter.
      root: fc.dictionary(
        key.map((k) => `r${k}`),
        iniValue,
        { maxKeys: 4 },
      ),
      sections: fc.dictionary(
        key.map((k) => `s${k}`),
        fc.dictionary(key, iniValue, { minKeys: 1, maxKeys: 4 }),
        { maxKeys: 4 },
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        doc,
        fc.array(lit(iniValue), { minLength: 8, maxLength: 8 }),
        fc.array(key, { maxLength: 3 }),
        async (d, values, fresh) => {
          let n = 0;
          const lines = [`; c${n++}`, ...Object.entries(d.root).map(([k, v]) => `${k}=${v}`)];
          for (const [name, keys] of Object.entries(d.sections)) {
            lines.push('', `[${name}]`, `# c${n++}`, ...Object.entries(keys).map(([k, v]) => `${k} = ${v}`));
          }
          const existing = [
            ...Object.keys(d.root).map((k) => [k]),
            ...Object.entries(d.sections).flatMap(([s, keys]) => Object.keys(keys).map((k) => [s, k])),
          ];
          const find: Record<string, unknown> = {};
          for (const [i, p] of existing.slice(0, 4).entries()) find[p.join('.')] = values[i];
          for (const [i, k] of fresh.entries()) find[i % 2 ? `Nr${k}` : `Ns${k}.x`] = values[4 + i];
          const out = await rewriteIni(`${lines.join('\n')}\n`, find, id);
          const parsed = parseIni(out) as Record<string, Record<string, string> | string>;
          const get = (p: string[]) =>
            p.length === 1
              ? parsed[p[0] as string]
              : (parsed[p[0] as string] as Record<string, string>)?.[p[1] as string];
          for (const [path, value] of Object.entries(find)) expect(String(get(path.split('.')))).toBe(String(value));
          for (const p of existing.slice(4)) {
            expect(get(p)).toBe(p.length === 1 ? d.root[p[0] as string] : d.sections[p[0] as string]?.[p[1] as string]);
          }
          for (let i = 0; i < n; i++) expect(out).toMatch(new RegExp(`^[;#] c${i}$`, 'm'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('properties: values set (non-ASCII escaped), others and comments kept', async () => {
    const doc = fc.dictionary(
      key.map((k) => k.replace(/-/g, '.')),
      anyText,
      { minKeys: 1, maxKeys: 8 },
    );
    await fc.assert(
      fc.asyncProperty(
        doc,
        fc.array(lit(anyText), { minLength: 8, maxLength: 8 }),
        fc.uniqueArray(key, { maxLength: 3 }),
        async (d, values, fresh) => {
          const { PropertiesEditor } = await import('properties-file/editor');
          const editor = new PropertiesEditor('');
          for (const [i, [k, v]] of Object.entries(d).entries()) editor.insert(k, v, { comment: `c${i}` });
          const text = editor.format();
          const keys = Object.keys(d);
          const find: Record<string, unknown> = {};
          for (const [i, k] of keys.slice(0, 4).entries()) find[k] = values[i];
          for (const [i, k] of fresh.entries()) find[`N${k}`] = values[4 + i];
          const out = await rewriteProperties(text, find, id);
          for (const line of out.split('\n')) {
            const k = line.split(/ ?=/)[0] as string;
            if (k in find) expect(line).toMatch(/^[ -~]*$/); // written values are escaped, as Wings does
          }
          const parsed = getProperties(out);
          for (const [k, value] of Object.entries(find)) expect(parsed[k]).toBe(String(value).replace(/[\r\n]+/g, ' '));
          for (const k of keys.slice(4)) expect(parsed[k]).toBe(d[k]);
          for (const i of keys.keys()) expect(out).toContain(`# c${i}\n`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('xml: element text and attributes set, others and comments kept', async () => {
    const text = fc.stringMatching(/^[A-Za-z0-9 &<>"'§😀_.-]{0,10}$/u);
    const children = fc.uniqueArray(fc.record({ tag: key.map((k) => `t${k}`), value: text, attr: text }), {
      selector: (c) => c.tag,
      minLength: 1,
      maxLength: 6,
    });
    const esc = (s: string) =>
      s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    await fc.assert(
      fc.asyncProperty(children, fc.array(lit(text), { minLength: 8, maxLength: 8 }), async (cs, values) => {
        const body = cs.map((c, i) => `  <!-- c${i} -->\n  <${c.tag} a="${esc(c.attr)}">${esc(c.value)}</${c.tag}>`);
        const source = `<?xml version="1.0"?>\n<Root>\n${body.join('\n')}\n</Root>\n`;
        const find: Record<string, unknown> = {};
        for (const [i, c] of cs.slice(0, 3).entries()) find[`Root.${c.tag}`] = values[i];
        for (const [i, c] of cs.slice(3, 5).entries()) find[`Root.${c.tag}.@a`] = values[3 + i];
        find['Root.Nnew.Deep'] = values[5];
        const out = await rewriteXml(source, find, id);
        const parsed = new XMLParser({
          ignoreAttributes: false,
          parseTagValue: false,
          parseAttributeValue: false,
          trimValues: false,
          attributeNamePrefix: '@',
        }).parse(out);
        const root = parsed.Root;
        const textOf = (n: unknown) =>
          typeof n === 'object' && n !== null ? ((n as Record<string, string>)['#text'] ?? '') : String(n ?? '');
        cs.forEach((c, i) => {
          const node = root[c.tag];
          const wantText = i < 3 ? String(values[i]) : c.value;
          const wantAttr = i >= 3 && i < 5 ? String(values[i]) : c.attr;
          expect(textOf(node)).toBe(wantText);
          expect(node['@a']).toBe(wantAttr);
          expect(out).toContain(`<!-- c${i} -->`);
        });
        expect(textOf(root.Nnew.Deep)).toBe(String(values[5]));
      }),
      { numRuns: 300 },
    );
  });

  it('file: a matched prefix line is replaced whole, others kept in order, a missing prefix appended', async () => {
    const line = fc.stringMatching(/^[a-z][a-z0-9]{2}[a-z0-9=: _-]{0,10}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(line, { selector: (l) => l.slice(0, 3), maxLength: 8 }),
        fc.array(key, { maxLength: 3 }),
        async (lines, fresh) => {
          const find: Record<string, unknown> = {};
          const replaced = new Map<number, string>();
          lines.slice(0, 3).forEach((l, i) => {
            find[l.slice(0, 3)] = `${l.slice(0, 3)}=new${i}`;
            replaced.set(i, `${l.slice(0, 3)}=new${i}`);
          });
          for (const k of fresh) find[`N${k}`] = `N${k} on`;
          const out = await rewriteText(lines.length ? `${lines.join('\n')}\n` : undefined, find, id);
          const got = out === '' ? [] : out.replace(/\n$/, '').split('\n');
          const want = [...lines.map((l, i) => replaced.get(i) ?? l), ...[...new Set(fresh)].map((k) => `N${k} on`)];
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });
});
