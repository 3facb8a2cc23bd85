import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/bus.js';
import { Outbox } from '../../../src/panel/outbox.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function dir() {
  const d = await mkdtemp(path.join(tmpdir(), 'cap-outbox-'));
  dirs.push(d);
  return d;
}

describe('Outbox', () => {
  it('carries epoch, seq and events over a restart, survives a torn last line, and stays bounded', async () => {
    const d = await dir();
    const log = pino({ level: 'silent' });
    const outbox = new Outbox(d, 5, log);
    const bus = new EventBus();
    await outbox.reset(bus.epoch, []);
    bus.subscribe((e) => outbox.append(e, () => ({ epoch: bus.epoch, events: bus.buffered() })));
    for (let i = 0; i < 30; i++) bus.publish('daemon_message', 's', { i });
    bus.publish('resource_update', 's', { cpu: 1 }); // ephemeral: not persisted
    await outbox.close();
    expect(
      (await readFile(path.join(d, 'outbox.jsonl'), 'utf8')).split('\n').filter(Boolean).length,
    ).toBeLessThanOrEqual(31);
    await appendFile(path.join(d, 'outbox.jsonl'), '{"event":"daemon_mes'); // a crash mid-append

    const state = await new Outbox(d, 5, log).load();
    expect(state?.epoch).toBe(bus.epoch);
    expect(state?.seq).toBe(30);
    expect(state?.events.map((e) => e.seq)).toEqual([26, 27, 28, 29, 30]);
    const resumed = new EventBus({ epoch: state?.epoch, startSeq: state?.seq, preload: state?.events });
    expect(resumed.publish('daemon_message', 's', {}).seq).toBe(31);
    expect(resumed.replaySince(27)?.map((e) => e.seq)).toEqual([28, 29, 30, 31]);
  });

  it('starts a new epoch when there is no outbox', async () => {
    expect(await new Outbox(await dir(), 5, pino({ level: 'silent' })).load()).toBeUndefined();
  });
});
