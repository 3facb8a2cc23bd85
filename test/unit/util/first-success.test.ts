import { describe, expect, it } from 'vitest';
import { firstSuccess } from '../../../src/util/first-success.js';

describe('firstSuccess', () => {
  it('reads once after a success and shares the value', async () => {
    let reads = 0;
    const get = firstSuccess(async () => ++reads);
    expect(await get()).toBe(1);
    expect(await get()).toBe(1);
    expect(reads).toBe(1);
  });

  it('shares a read in flight between callers', async () => {
    let reads = 0;
    let release: (v: number) => void = () => undefined;
    const get = firstSuccess(() => {
      reads++;
      return new Promise<number>((r) => {
        release = r;
      });
    });
    const both = Promise.all([get(), get()]);
    release(7);
    expect(await both).toEqual([7, 7]);
    expect(reads).toBe(1);
  });

  it('does not keep a failure: the next call reads again', async () => {
    let reads = 0;
    const get = firstSuccess(async () => {
      reads++;
      if (reads === 1) throw new Error('engine away');
      return 'facts';
    });
    await expect(get()).rejects.toThrow('engine away');
    expect(await get()).toBe('facts');
    expect(await get()).toBe('facts');
    expect(reads).toBe(2);
  });
});
