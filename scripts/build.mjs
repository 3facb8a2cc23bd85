#!/usr/bin/env node
// Builds dist/ from src/ only when it has to, so `npm start` on a clone compiles once and never on a restart,
// and a release artifact (no src/ in it) never compiles at all. There is no `prepare` script: `npm ci` compiles
// nothing (NODE_ENV=production npm ci has no TypeScript), the first `npm start` does. Plain Node, no dependencies: it runs before
// anything is built, on whatever Node `npm` found (the launcher, dist/cli/bin.js, checks the version after).
//   node scripts/build.mjs              prestart: build if dist/ is missing or older than src/, else nothing
//   node scripts/build.mjs --force       npm run build
//   node scripts/build.mjs --release     prepack: a clean build (no outputs of deleted sources in the artifact)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Not import.meta.dirname: Node 18 and 20.10 lack it, and this runs before the launcher's version check.
const root = fileURLToPath(new URL('..', import.meta.url));
const at = (...parts) => path.join(root, ...parts);
const STAMP = at('dist', '.build-stamp');
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json'];
const mode = process.argv[2] ?? '';

function newestMtime(file) {
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted source changes its directory's mtime
  for (const entry of readdirSync(file)) newest = Math.max(newest, newestMtime(path.join(file, entry)));
  return newest;
}

function isStale() {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.some((input) => existsSync(at(input)) && newestMtime(at(input)) > built);
}

function tscPath() {
  try {
    return createRequire(at('package.json')).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

function build() {
  const tsc = tscPath();
  if (!tsc) return false;
  // The stamp takes the time the build started: a source saved while tsc runs makes the next start build again.
  const startedAt = new Date();
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(STAMP, 'dist/ was built from src/ at the mtime of this file (scripts/build.mjs)\n');
  utimesSync(STAMP, startedAt, startedAt);
  return true;
}

const NO_TYPESCRIPT =
  'dist/ is missing or older than src/, and TypeScript is not installed (NODE_ENV=production npm ci leaves out ' +
  'devDependencies). Run `npm ci --include=dev` and start again, or install the release artifact ' +
  '(README, "Install"), which ships dist/ prebuilt.';

// A release artifact or an installed package has dist/ and no src/: it is prebuilt, there is nothing to do.
const hasSources = existsSync(at('src'));

if (mode === '--release') {
  if (hasSources) {
    rmSync(at('dist'), { recursive: true, force: true });
    if (!build()) {
      process.stderr.write(`${NO_TYPESCRIPT}\n`);
      process.exit(1);
    }
  } else if (!existsSync(at('dist', 'cli', 'bin.js'))) {
    process.stderr.write('neither src/ nor a built dist/ is here: nothing to pack\n');
    process.exit(1);
  }
} else if (hasSources && (mode === '--force' || isStale())) {
  if (!build()) {
    process.stderr.write(`${NO_TYPESCRIPT}\n`);
    process.exit(1);
  }
}
