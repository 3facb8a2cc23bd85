// `npm run bench`: runs every scenario module in this folder (core.mjs first), prints a table and writes every
// figure to bench-results.json as [{name, value, unit, target, pass}]. Ratios compare the agent with raw Docker
// API calls measured in the same run, so a noisy shared machine affects both sides alike. `npm run bench -- files`
// runs only the named scenarios and replaces only their figures in bench-results.json; the others are kept.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const here = import.meta.dirname;
const results = [];
let current = '';

/** Records one figure; `target` is a human string like "< 1.5" and `pass` whether the figure meets it. */
function record({ name, value, unit, target = null, pass = null }) {
  const rounded = typeof value === 'number' ? Math.round(value * 1000) / 1000 : value;
  results.push({ bench: current, name, value: rounded, unit, target, pass });
  console.log(`  ${name}: ${rounded} ${unit}${target ? ` (target ${target}: ${pass ? 'pass' : 'FAIL'})` : ''}`);
}

const only = process.argv.slice(2);
const modules = (await readdir(here))
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && !f.startsWith('lib'))
  .sort((a, b) => (a === 'core.mjs' ? -1 : b === 'core.mjs' ? 1 : a.localeCompare(b)))
  .filter((f) => only.length === 0 || only.includes(path.basename(f, '.mjs')));

let failed = 0;
for (const file of modules) {
  console.log(`\n# ${file}`);
  current = path.basename(file, '.mjs');
  try {
    const mod = await import(path.join(here, file));
    await mod.run(record);
  } catch (err) {
    failed++;
    console.error(`  ${file} failed: ${err?.stack ?? err}`);
  }
}

const width = Math.max(...results.map((r) => r.name.length), 10);
console.log(`\n${'figure'.padEnd(width)}  ${'value'.padStart(12)}  unit        target      result`);
for (const r of results) {
  const verdict = r.pass === null ? '' : r.pass ? 'pass' : 'FAIL';
  console.log(
    `${r.name.padEnd(width)}  ${String(r.value).padStart(12)}  ${String(r.unit).padEnd(10)}  ${String(r.target ?? '').padEnd(10)}  ${verdict}`,
  );
}
const resultsFile = path.join(here, '..', 'bench-results.json');
const ran = new Set(modules.map((f) => path.basename(f, '.mjs')));
const kept =
  only.length === 0
    ? []
    : JSON.parse(await readFile(resultsFile, 'utf8').catch(() => '[]')).filter(
        (r) => !ran.has(r.bench) && !results.some((n) => n.name === r.name),
      );
await writeFile(resultsFile, `${JSON.stringify([...kept, ...results], null, 2)}\n`);
console.log('\nwrote bench-results.json');
if (failed > 0) process.exitCode = 1;
