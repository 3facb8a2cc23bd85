import { describe, expect, it } from 'vitest';
import { CommandIdCache } from '../../../src/panel/command-id-cache.js';
import { panelSocketUrl } from '../../../src/panel/panel-socket-url.js';
import { RECONNECT_CAP_MS, reconnectDelayMs } from '../../../src/panel/reconnect-backoff.js';

describe('panelSocketUrl', () => {
  it('switches https to wss and adds /ws/agents?nodeId=', () => {
    expect(panelSocketUrl({ url: 'https://panel.example.com' }, 'node-1')?.href).toBe(
      'wss://panel.example.com/ws/agents?nodeId=node-1',
    );
  });
  it('switches http to ws, keeps a path prefix and the port', () => {
    expect(panelSocketUrl({ url: 'http://10.0.0.2:3000/panel/' }, 'a b')?.href).toBe(
      'ws://10.0.0.2:3000/panel/ws/agents?nodeId=a+b',
    );
  });
  it('prefers wsUrl as given and is disabled without a url', () => {
    expect(panelSocketUrl({ url: 'https://x', wsUrl: 'wss://y/sock' }, 'n')?.href).toBe('wss://y/sock');
    expect(panelSocketUrl({}, 'n')).toBeUndefined();
  });
});

describe('reconnectDelayMs', () => {
  it('doubles from 1 s with equal jitter between d/2 and d', () => {
    expect(reconnectDelayMs(0, () => 0)).toBe(500);
    expect(reconnectDelayMs(0, () => 1)).toBe(1000);
    expect(reconnectDelayMs(3, () => 0)).toBe(4000);
    expect(reconnectDelayMs(3, () => 1)).toBe(8000);
  });
  it('never exceeds the 60 s cap and never spins, even for huge attempt counts', () => {
    for (const attempt of [6, 7, 50, 5000]) {
      expect(reconnectDelayMs(attempt, () => 1)).toBe(RECONNECT_CAP_MS);
      expect(reconnectDelayMs(attempt, () => 0)).toBe(RECONNECT_CAP_MS / 2);
    }
  });
});

describe('CommandIdCache', () => {
  it('returns the cached response and evicts the oldest beyond capacity', () => {
    const cache = new CommandIdCache<string>(2);
    cache.set('a', 'ra');
    cache.set('b', 'rb');
    expect(cache.get('a')).toBe('ra');
    cache.set('c', 'rc');
    expect(cache.has('a')).toBe(false);
    expect(cache.get('b')).toBe('rb');
    expect(cache.get('c')).toBe('rc');
    expect(cache.size).toBe(2);
  });
  it('refuses a non-positive capacity', () => {
    expect(() => new CommandIdCache(0)).toThrow(RangeError);
  });
});
