import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Small modules and short functions (STYLE.md, issue 14's definition of done): no function in src is longer than
 * 80 lines and no file longer than 300, unless the file opens with a comment saying it is "longer than 300 lines
 * because" of something. Files are parsed with the TypeScript compiler, so a function is every function-like node
 * with a body (declarations, methods, constructors, accessors, arrows, function expressions), nested ones included,
 * and its length runs from its first token to the end of its body.
 */
const MAX_FUNCTION_LINES = 80;
const MAX_FILE_LINES = 300;
/** The words a long file's opening comment must contain, followed by its reason. */
const EXEMPTION = /longer than 300 lines because\s+(\S+(?:\s+\S+){2,})/i;

interface Violation {
  file: string;
  line: number;
  what: string;
  lines: number;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function lineOf(source: ts.SourceFile, pos: number): number {
  return source.getLineAndCharacterOfPosition(pos).line + 1;
}

function nameText(name: ts.Node | undefined, source: ts.SourceFile): string | undefined {
  if (!name) return undefined;
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  return name.getText(source);
}

/** The name a reader would search for: `fn`, `Class.method`, `const x = () =>`, or where an anonymous one is passed. */
function describeFunction(node: ts.SignatureDeclaration, source: ts.SourceFile): string {
  const own = nameText(node.name, source);
  const parent = node.parent;
  const owner =
    parent && (ts.isClassLike(parent) || ts.isObjectLiteralExpression(parent))
      ? nameText((parent as ts.ClassLikeDeclaration).name, source)
      : undefined;
  if (ts.isConstructorDeclaration(node)) return `${owner ?? '(class)'} constructor`;
  if (own) return owner ? `${owner}.${own}` : own;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return nameText(parent.name, source) ?? '(anonymous function)';
  }
  if (ts.isCallExpression(parent)) {
    return `(anonymous function passed to ${parent.expression.getText(source).slice(0, 60)})`;
  }
  if (ts.isReturnStatement(parent)) {
    const outer = ts.findAncestor(parent, ts.isFunctionLike);
    return `(anonymous function returned by ${outer ? describeFunction(outer, source) : 'a function'})`;
  }
  return '(anonymous function)';
}

function opensWithExemption(text: string): boolean {
  const body = text.startsWith('#!') ? text.slice(text.indexOf('\n') + 1) : text;
  const comments = ts.getLeadingCommentRanges(body, 0) ?? [];
  return comments.some((range) =>
    EXEMPTION.test(body.slice(range.pos, range.end).replace(/^\s*(\/\/|\/?\*+\/?)/gm, '')),
  );
}

/** Every function over the line limit in one file's text. */
function longFunctions(file: string, text: string, limit = MAX_FUNCTION_LINES): Violation[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Violation[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = lineOf(source, node.getStart(source));
      const lines = lineOf(source, (node.body as ts.Node).getEnd()) - first + 1;
      if (lines > limit) found.push({ file, line: first, what: describeFunction(node, source), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file itself when it is over the limit and does not open with a comment saying why. */
function longFile(file: string, text: string, limit = MAX_FILE_LINES): Violation[] {
  const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
  if (lines <= limit || opensWithExemption(text)) return [];
  return [{ file, line: 1, what: 'file', lines }];
}

function report(violations: Violation[], limit: number, advice: string): string {
  const rows = violations
    .sort((a, b) => b.lines - a.lines)
    .map((v) => `  ${v.file}:${v.line}  ${v.what}: ${v.lines} lines (limit ${limit}, ${v.lines - limit} over)`);
  return [`${violations.length} over the limit of ${limit} lines:`, ...rows, advice].join('\n');
}

const FUNCTION_ADVICE =
  'Cut each along its seams: an action table into one function or const per group of actions, a route plugin ' +
  'into one function per route, a builder into helpers that each build one part. Keep exported names.';
const FILE_ADVICE =
  'Split each into modules of at most 300 lines named after what they export, or, where one idea truly needs ' +
  'the room, open the file with a comment saying it is "longer than 300 lines because <the reason>".';

describe('size limits', () => {
  const files = sources('src').map((f) => f.split(path.sep).join('/'));

  it(`has no function longer than ${MAX_FUNCTION_LINES} lines`, () => {
    const found = files.flatMap((f) => longFunctions(f, readFileSync(f, 'utf8')));
    if (found.length > 0) expect.fail(report(found, MAX_FUNCTION_LINES, FUNCTION_ADVICE));
  });

  it(`has no file longer than ${MAX_FILE_LINES} lines without a comment saying why`, () => {
    const found = files.flatMap((f) => longFile(f, readFileSync(f, 'utf8')));
    if (found.length > 0) expect.fail(report(found, MAX_FILE_LINES, FILE_ADVICE));
  });
});

describe('size limits, checked against fixtures', () => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');

  it('names each kind of long function with its line, nested ones included', () => {
    const text = [
      `export function declared() {\n${body(79)}\n}`, // 81 lines
      `export function fits() {\n${body(78)}\n}`, // 80 lines: at the limit
      `class Conn {\n  method() {\n${body(79)}\n  }\n  constructor() {\n${body(79)}\n  }\n}`,
      `const arrow = () => {\n${body(79)}\n};`,
      `export function outer() {\n  return async (app: unknown) => {\n${body(79)}\n  };\n}`,
      `register(function () {\n${body(79)}\n});`,
    ].join('\n');
    const found = longFunctions('fixture.ts', text).map((v) => `${v.line} ${v.what} ${v.lines}`);
    expect(found).toEqual([
      '1 declared 81',
      '163 Conn.method 81',
      '244 Conn constructor 81',
      '326 arrow 81',
      '407 outer 83',
      '408 (anonymous function returned by outer) 81',
      '490 (anonymous function passed to register) 81',
    ]);
  });

  it('refuses a long file unless its opening comment says why', () => {
    const lines = `${Array.from({ length: 301 }, (_, i) => `export const x${i} = ${i};`).join('\n')}\n`;
    expect(longFile('long.ts', lines)).toEqual([{ file: 'long.ts', line: 1, what: 'file', lines: 301 }]);
    expect(longFile('fits.ts', lines.split('\n').slice(1).join('\n'))).toEqual([]);
    const why = '/**\n * This file is longer than 300 lines because it is one generated table of codes.\n */\n';
    expect(longFile('why.ts', why + lines)).toEqual([]);
    expect(longFile('line.ts', `// longer than 300 lines because the table is one idea\n${lines}`)).toEqual([]);
    // The words alone are not a reason, and a comment further down is not the opening one.
    expect(longFile('bare.ts', `// longer than 300 lines because\n${lines}`)).toHaveLength(1);
    expect(longFile('late.ts', `${lines}// longer than 300 lines because it is one table of codes\n`)).toHaveLength(1);
  });
});
