import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EggError } from '../../../../src/servers/egg/parse.js';
import {
  brokenRule,
  compileRules,
  createRegexTester,
  csv,
  splitDelimited,
  splitRules,
} from '../../../../src/servers/egg/variables.js';

const test = createRegexTester();
const check = (value: string | undefined, rules: string | string[]) =>
  brokenRule(value, compileRules(rules, ['v']), test);

describe('egg variable rules (Laravel semantics)', () => {
  it('required fails on absent and blank values; other rules skip them', () => {
    expect(check(undefined, 'required')).toBe('required');
    expect(check('  ', 'required|string')).toBe('required');
    expect(check('', 'integer|min:5|regex:/^x$/')).toBeUndefined();
    expect(check(undefined, 'nullable|integer')).toBeUndefined();
    expect(check(undefined, 'present')).toBe('present');
    expect(check('', 'present')).toBeUndefined();
  });

  it('integer and numeric as PHP reads them', () => {
    for (const ok of ['0', '-5', '+7', ' 42 ', '9223372036854775807']) expect(check(ok, 'integer'), ok).toBeUndefined();
    for (const bad of ['05', '1.0', '1e3', 'x', '9223372036854775808', '--1'])
      expect(check(bad, 'integer'), bad).toBe('integer');
    for (const ok of ['1.5', '.5', '1e3', '-2.', ' 3 ']) expect(check(ok, 'numeric'), ok).toBeUndefined();
    for (const bad of ['.', '1e', '0x1A', 'one']) expect(check(bad, 'numeric'), bad).toBe('numeric');
  });

  it('min/max/between measure numbers with numeric or integer, else characters', () => {
    expect(check('100', 'max:20')).toBeUndefined(); // three characters
    expect(check('100', 'integer|max:20')).toBe('max:20');
    expect(check('5', 'numeric|between:1,10')).toBeUndefined();
    expect(check('11', 'numeric|between:1,10')).toBe('numeric|between:1,10'.split('|')[1]);
    expect(check('ééé', 'max:3')).toBeUndefined(); // characters, not bytes
    expect(check('😀😀😀😀', 'max:3')).toBe('max:3'); // code points
    expect(check('ab', 'min:3')).toBe('min:3');
    expect(check('abc', 'string|between:1,3')).toBeUndefined();
  });

  it('boolean, in, alpha_dash, alpha_num, digits_between, url', () => {
    for (const ok of ['0', '1', 'true', 'false']) expect(check(ok, 'boolean')).toBeUndefined();
    expect(check('yes', 'boolean')).toBe('boolean');
    expect(check('easy', 'in:peaceful,easy')).toBeUndefined();
    expect(check('Easy', 'in:peaceful,easy')).toBe('in:peaceful,easy');
    expect(check('a,b', 'in:"a,b",c')).toBeUndefined();
    expect(check('my_world-2', 'alpha_dash')).toBeUndefined();
    expect(check('my world', 'alpha_dash')).toBe('alpha_dash');
    expect(check('abc123', 'alpha_num')).toBeUndefined();
    expect(check('abc_123', 'alpha_num')).toBe('alpha_num');
    expect(check('123', 'digits_between:1,3')).toBeUndefined();
    expect(check('1234', 'digits_between:1,3')).toBe('digits_between:1,3');
    expect(check('https://example.com/a.jar', 'url')).toBeUndefined();
    expect(check('example.com', 'url')).toBe('url');
    expect(check('http://', 'url')).toBe('url');
  });

  it('regex with PHP delimiters and flags; a | inside a regex of a string rule stays in it', () => {
    expect(check('server.jar', 'required|regex:/^([\\w\\d._-]+)(\\.jar)$/')).toBeUndefined();
    expect(check('server.zip', 'required|regex:/^([\\w\\d._-]+)(\\.jar)$/')).toBe('regex:/^([\\w\\d._-]+)(\\.jar)$/');
    expect(check('ABC', 'regex:/^[a-z]+$/i')).toBeUndefined();
    expect(check('b', 'regex:/^(a|b)$/|max:1')).toBeUndefined();
    expect(splitRules('required|regex:/^(a|b)$/|max:1')).toEqual(['required', 'regex:/^(a|b)$/', 'max:1']);
    expect(check('abc', 'regex:([a-z-0-9]+$)')).toBeUndefined(); // bracket delimiters, as one published egg has
    expect(check('x/y', 'regex:#^x/y$#')).toBeUndefined();
    expect(splitDelimited('/a\\/b/u')).toEqual({ pattern: 'a\\/b', flags: 'u' });
    expect(splitDelimited('(a(b)c)x')).toEqual({ pattern: 'a(b)c', flags: 'x' });
    expect(splitDelimited('abc')).toBeUndefined();
    expect(csv('a,"b,c",""""')).toEqual(['a', 'b,c', '"']);
  });

  it('a malformed rule is an EggError at the variable; unknown rules are listed, not fatal', () => {
    for (const bad of ['regex:^[a-z]+$', 'regex:/(/', 'regex:/a/U', 'max:x', 'between:1', 'min:', 'in', 'regex:']) {
      expect(() => compileRules(bad, ['egg', 'variables', 'X']), bad).toThrow(EggError);
    }
    expect(compileRules('required|int|starts_with:a|sometimes', ['v']).unknown).toEqual(['int', 'starts_with:a']);
  });

  it('never throws anything but EggError on random rules, and judges random values without throwing', () => {
    const rule = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.stringMatching(/^(required|nullable|string|integer|numeric|boolean|alpha_dash|url|present)$/),
      fc.stringMatching(/^(in|min|max|between|digits|digits_between|regex):[^|]{0,12}$/),
    );
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 8 }), fc.option(fc.string({ unit: 'binary' })), (rules, value) => {
        let compiled: ReturnType<typeof compileRules>;
        try {
          compiled = compileRules(rules.join('|'), ['v']);
        } catch (err) {
          expect(err).toBeInstanceOf(EggError);
          return;
        }
        const broken = brokenRule(value ?? undefined, compiled, test);
        if (broken !== undefined) expect(compiled.rules.map((r) => r.text)).toContain(broken);
      }),
      { numRuns: 300 },
    );
  });

  it('stops a backtracking regex on its budget', () => {
    const slow = createRegexTester(50);
    const started = Date.now();
    expect(() => slow(/^(a+)+$/, `${'a'.repeat(40)}!`)).toThrow(/took longer than 50 ms/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(slow(/^(a+)+$/, 'aaaa')).toBe(true);
  });
});
