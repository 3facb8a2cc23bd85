// The cost of synchronous log writes (src/logging.ts): 50,000 info lines with a child's bindings and a few fields,
// through pino to a file, sync and async destinations, three rounds each; prints µs per line (median round).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';

const LINES = 50_000;
const dir = mkdtempSync(path.join(tmpdir(), 'cap-log-bench-'));

async function round(sync, i) {
  const dest = pino.destination({ dest: path.join(dir, `${sync}-${i}.log`), sync, minLength: 0 });
  const log = pino({ formatters: { level: (label) => ({ level: label }) } }, dest).child({ component: 'bench' });
  const start = process.hrtime.bigint();
  for (let n = 0; n < LINES; n++) log.info({ serverId: 'abc', n }, 'a line of the size the agent writes');
  if (!sync) await new Promise((resolve) => dest.flush(resolve));
  const us = Number(process.hrtime.bigint() - start) / 1000 / LINES;
  dest.end();
  return us;
}

const results = {};
for (const sync of [true, false]) {
  const rounds = [];
  for (let i = 0; i < 3; i++) rounds.push(await round(sync, i));
  results[sync ? 'sync' : 'async'] = rounds.sort((a, b) => a - b)[1].toFixed(2);
}
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ lines: LINES, usPerLine: results }));
