#!/usr/bin/env -S node --max-semi-space-size=1
// The flag (also in `npm start`, the systemd unit and the image): a 1 MB young generation. The agent is mostly
// idle with little short-lived garbage, and every MB of semi-space is resident memory on every host; measured
// about 8 MB less idle RSS (bench/core.mjs).
import { buildProgram } from './program.js';

await buildProgram().parseAsync(process.argv);
