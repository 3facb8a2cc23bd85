import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../src/errors.js';

describe('error catalogue', () => {
  // The protocol document lives in the repository (docs/PROTOCOL.md, the copy of the shared contract this code
  // implements), so the check runs on any checkout and both directions hold.
  const protocol = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const section = protocol.slice(protocol.indexOf('### 3.2 Error codes'), protocol.indexOf('## 4. Action catalogue'));
  const documented = new Set([...section.matchAll(/`([A-Z_]{4,})`/g)].map((m) => m[1] as string));

  it('contains every code PROTOCOL.md §3.2 lists', () => {
    expect(documented.size).toBeGreaterThan(25);
    for (const code of documented) expect(ERROR_CATALOGUE).toHaveProperty(code);
  });

  it('has no code that PROTOCOL.md §3.2 does not document', () => {
    const undocumented = Object.keys(ERROR_CATALOGUE).filter((code) => !documented.has(code));
    expect(undocumented).toEqual([]);
  });

  it('answers HTTP 200 for every non-transport code', () => {
    const transport = [
      'AUTH_FAILED',
      'BAD_REQUEST',
      'PAYLOAD_TOO_LARGE',
      'NOT_FOUND',
      'METHOD_NOT_ALLOWED',
      'RATE_LIMITED',
      'SHUTTING_DOWN',
    ];
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      if (!transport.includes(code)) expect(entry.httpStatus, code).toBe(200);
    }
  });
});
