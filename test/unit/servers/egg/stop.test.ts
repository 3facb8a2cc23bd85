import { describe, expect, it } from 'vitest';
import { doneToPattern } from '../../../../src/servers/egg/done.js';
import { EggError } from '../../../../src/servers/egg/parse.js';
import { parseEggStop } from '../../../../src/servers/egg/stop.js';
import { planStop, type StopPlanInput } from '../../../../src/servers/stop-plan.js';

describe('egg config.stop', () => {
  it('maps the signal forms and keeps any other text as a stop command', () => {
    expect(parseEggStop('^C')).toEqual({ stopSignal: 'SIGINT' });
    expect(parseEggStop('^^C')).toEqual({ stopSignal: 'SIGINT' });
    expect(parseEggStop('^c')).toEqual({ stopSignal: 'SIGINT' });
    expect(parseEggStop('^X')).toEqual({ stopSignal: 'SIGKILL' });
    expect(parseEggStop('^SIGKILL')).toEqual({ stopSignal: 'SIGKILL' });
    expect(parseEggStop('^SIGTERM')).toEqual({ stopSignal: 'SIGTERM' });
    expect(parseEggStop('stop')).toEqual({ stopCommand: 'stop' });
    expect(parseEggStop('/shutdown 3 SIGTERM Server shutting down...')).toEqual({
      stopCommand: '/shutdown 3 SIGTERM Server shutting down...',
    });
    expect(parseEggStop('^Q')).toEqual({ stopCommand: '^Q' });
    expect(parseEggStop('  ')).toBeUndefined();
    expect(parseEggStop(undefined)).toBeUndefined();
  });
});

describe('egg config.startup.done', () => {
  it('escapes literals, takes regex: as a pattern and joins several', () => {
    const one = new RegExp(doneToPattern([')! For help, type '], ['d']) as string);
    expect(one.test('Done (1.0s)! For help, type "help"')).toBe(true);
    expect(one.test('Done (1.0s)!! For help')).toBe(false);
    const many = new RegExp(doneToPattern(['a.b', 'regex:^ready \\d+$', ''], ['d']) as string);
    expect(many.test('xa.by')).toBe(true);
    expect(many.test('axb')).toBe(false);
    expect(many.test('ready 12')).toBe(true);
    expect(doneToPattern([''], ['d'])).toBeUndefined();
    expect(() => doneToPattern(['regex:(('], ['d'])).toThrow(EggError);
    expect(() => doneToPattern(['x'.repeat(1025)], ['d'])).toThrow(/longer than 1024/);
  });
});

describe('stop ladder plan', () => {
  const base: StopPlanInput = {
    stopCommand: undefined,
    stopSignal: undefined,
    signal: 'SIGTERM',
    timeoutS: 30,
    graceMs: 10_000,
    canWrite: true,
  };

  it('without egg stop: stop_server signal for the timeout, then SIGKILL', () => {
    expect(planStop(base)).toEqual([{ kind: 'signal', signal: 'SIGTERM', waitMs: 30_000 }]);
    expect(planStop({ ...base, signal: 'SIGKILL' })).toEqual([]);
    expect(planStop({ ...base, timeoutS: 0 })).toEqual([]);
  });

  it('a stop command first, then the signal with the grace', () => {
    expect(planStop({ ...base, stopCommand: 'stop' })).toEqual([
      { kind: 'command', command: 'stop', waitMs: 30_000 },
      { kind: 'signal', signal: 'SIGTERM', waitMs: 10_000 },
    ]);
    // Not attached: the command cannot be written, so the signal gets the whole timeout.
    expect(planStop({ ...base, stopCommand: 'stop', canWrite: false })).toEqual([
      { kind: 'signal', signal: 'SIGTERM', waitMs: 30_000 },
    ]);
  });

  it("the egg's signal wins over stop_server's, which is the next rung", () => {
    expect(planStop({ ...base, stopSignal: 'SIGINT' })).toEqual([
      { kind: 'signal', signal: 'SIGINT', waitMs: 30_000 },
      { kind: 'signal', signal: 'SIGTERM', waitMs: 10_000 },
    ]);
    expect(planStop({ ...base, stopSignal: 'SIGTERM' })).toEqual([
      { kind: 'signal', signal: 'SIGTERM', waitMs: 30_000 },
    ]);
    expect(planStop({ ...base, stopSignal: 'SIGINT', signal: 'SIGKILL' })).toEqual([
      { kind: 'signal', signal: 'SIGINT', waitMs: 30_000 },
    ]);
    expect(planStop({ ...base, stopSignal: 'SIGKILL' })).toEqual([]);
    expect(planStop({ ...base, stopSignal: 'SIGINT', timeoutS: 0 })).toEqual([]);
  });
});
