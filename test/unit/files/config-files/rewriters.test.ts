import { parse as parseIni } from 'ini';
import { getProperties } from 'properties-file';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { rewriteIni } from '../../../../src/files/config-files/ini-rewriter.js';
import { rewriteJson } from '../../../../src/files/config-files/json-rewriter.js';
import { rewriteProperties } from '../../../../src/files/config-files/properties-rewriter.js';
import { rewriteText } from '../../../../src/files/config-files/text-rewriter.js';
import { rewriteToml } from '../../../../src/files/config-files/toml-rewriter.js';
import { rewriteXml } from '../../../../src/files/config-files/xml-rewriter.js';
import { rewriteYaml } from '../../../../src/files/config-files/yaml-rewriter.js';

const id = (v: unknown) => v;

describe('config-file rewriters: the forms eggs use', () => {
  it('properties: keeps comments and order, types nothing, escapes non-ASCII like Wings', async () => {
    const text = '#Minecraft server properties\n# a comment\nmotd=Hello\nserver-port=25565\n\nenable-query=false\n';
    const out = await rewriteProperties(
      text,
      { 'server-port': 30000, 'enable-query': true, motd: '§a Hi', 'new.key': 'x' },
      id,
    );
    expect(out).toBe(
      '#Minecraft server properties\n# a comment\nmotd=\\u00a7a Hi\nserver-port=30000\n\nenable-query=true\nnew.key = x\n',
    );
    expect(getProperties(out)).toMatchObject({ motd: '§a Hi', 'server-port': '30000' });
  });

  it('yaml: keeps comments, mirrors the existing type of a resolved string, the egg regex form and *', async () => {
    const text = [
      '# BungeeCord',
      'listeners:',
      '- query_port: 25577 # the query port',
      '  host: 0.0.0.0:25577',
      'servers:',
      '  lobby:',
      '    address: localhost:25565',
      '  hub:',
      '    address: 10.1.1.1:25565',
      'online_mode: true',
      '',
    ].join('\n');
    const out = await rewriteYaml(
      text,
      {
        'listeners[0].query_port': '{{port}}',
        'listeners[0].host': '0.0.0.0:30000',
        'servers.*.address': { 'regex:^(127\\.0\\.0\\.1|localhost)(:\\d{1,5})?$': '172.18.0.1$2' },
        online_mode: 'false',
        'new.nested.key': 7,
      },
      (v) => (v === '{{port}}' ? '30000' : v),
    );
    expect(out).toContain('# BungeeCord');
    expect(out).toContain('query_port: 30000 # the query port');
    const doc = parseYaml(out);
    expect(doc.listeners[0]).toEqual({ query_port: 30000, host: '0.0.0.0:30000' });
    expect(doc.servers).toEqual({ lobby: { address: '172.18.0.1:25565' }, hub: { address: '10.1.1.1:25565' } });
    expect(doc.online_mode).toBe(false);
    expect(doc.new).toEqual({ nested: { key: 7 } });
  });

  it('json: numbers stay numbers (big ones digit for digit), floats keep their text, new keys are created', async () => {
    const text = '{\n    "port": 1,\n    "id": 123456789012345678901,\n    "ratio": 1.0,\n    "flag": true\n}\n';
    const out = await rewriteJson(text, { port: '27015', flag: 'false', 'a.b': 'c', 'list.0': 1 }, id);
    expect(out).toContain('"id": 123456789012345678901');
    expect(out).toContain('"ratio": 1.0');
    expect(out).toContain('\n    "port": 27015');
    expect(JSON.parse(out)).toMatchObject({ port: 27015, flag: false, a: { b: 'c' } });
    expect(JSON.parse(out).list).toEqual({ 0: 1 }); // a missing path is made of objects, as sjson does
  });

  it('ini: section.key, root keys, new sections, comments kept', async () => {
    const text = '; top\nname=old\n\n[network]\n# port\nserver_port = 1\n\n[other]\nx=1\n';
    const out = await rewriteIni(
      text,
      { 'network.server_port': 2, name: 'new', 'new.k': 'v', 'network.added': 'y' },
      id,
    );
    expect(out).toBe(
      '; top\nname=new\n\n[network]\n# port\nserver_port = 2\nadded = y\n\n[other]\nx=1\n\n[new]\nk = v\n',
    );
    expect(parseIni(out)).toMatchObject({ name: 'new', network: { server_port: '2', added: 'y' }, new: { k: 'v' } });
  });

  it('toml: types kept (integer, float, boolean)', async () => {
    const text = 'title = "x"\n[server]\nport = 1\nratio = 1.5\nopen = false\n';
    const out = await rewriteToml(
      text,
      { 'server.port': '30000', 'server.ratio': 2, 'server.open': 'true', 'server.name': 'n' },
      id,
    );
    expect(parseToml(out, { integersAsBigInt: true })).toEqual({
      title: 'x',
      server: { port: 30000n, ratio: 2, open: true, name: 'n' },
    });
    expect(out).toContain('ratio = 2.0');
  });

  it('xml: elements, @attributes, the Wings [name=value] form, comments kept, missing paths created', async () => {
    const text =
      '<?xml version="1.0"?>\n<!-- c -->\n<Settings b="2" a="1">\n  <Port>1</Port>\n  <Name>x &amp; y</Name>\n</Settings>\n';
    const out = await rewriteXml(
      text,
      { 'Settings.Port': 2, 'Settings.@a': 'z', 'Settings.Name': "[value='v']", 'Settings.New.Deep': 'd' },
      id,
    );
    expect(out).toContain('<!-- c -->');
    expect(out).toContain('<Settings b="2" a="z">');
    expect(out).toContain('<Port>2</Port>');
    expect(out).toContain('<Name value="v">x &amp; y</Name>');
    expect(out).toContain('<New><Deep>d</Deep></New>');
  });

  it('file: a prefix replaces the whole line; a missing one is appended', async () => {
    const out = await rewriteText('a=1\nport 1\nb\n', { 'port ': 'port 2', 'new=': 'new=3' }, id);
    expect(out).toBe('a=1\nport 2\nb\nnew=3\n');
    expect(await rewriteText(undefined, { 'x=': 'x=1' }, id)).toBe('x=1\n');
  });

  it('a missing `a[0].b` makes a list, a missing `a.0.b` a map', async () => {
    const find = { 'listeners[0].host': 'h', 'listeners[0].port': 1, 'm.0.k': 'v' };
    const expected = { listeners: [{ host: 'h', port: 1 }], m: { 0: { k: 'v' } } };
    expect(JSON.parse(await rewriteJson(undefined, find, id))).toEqual(expected);
    expect(parseYaml(await rewriteYaml(undefined, find, id))).toEqual(expected);
  });

  it('a missing file is created with the values, in every format', async () => {
    expect(JSON.parse(await rewriteJson(undefined, { 'a.b': 1 }, id))).toEqual({ a: { b: 1 } });
    expect(parseYaml(await rewriteYaml(undefined, { 'a.b': 1 }, id))).toEqual({ a: { b: 1 } });
    expect(parseToml(await rewriteToml(undefined, { 'a.b': 1 }, id))).toEqual({ a: { b: 1 } });
    expect(parseIni(await rewriteIni(undefined, { 'a.b': 1, c: 2 }, id))).toEqual({ a: { b: '1' }, c: '2' });
    expect(getProperties(await rewriteProperties(undefined, { a: 1 }, id))).toEqual({ a: '1' });
    expect(await rewriteXml(undefined, { 'Root.Port': 1 }, id)).toContain('<Root>');
  });

  it('unparsable input throws', async () => {
    await expect(rewriteJson('{', {}, id)).rejects.toThrow();
    await expect(rewriteYaml('a: [', {}, id)).rejects.toThrow();
    await expect(rewriteToml('a = ', {}, id)).rejects.toThrow();
    await expect(rewriteXml('<a><b></a>', {}, id)).rejects.toThrow();
  });
});
