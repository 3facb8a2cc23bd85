#!/usr/bin/env -S node --max-semi-space-size=1 --no-maglev --invocation-count-for-turbofan=1000000 --invocation-count-for-osr=500000 --optimize-for-size
// The V8 flags and why: node-flags.ts.
import { buildProgram } from './program.js';

await buildProgram().parseAsync(process.argv);
