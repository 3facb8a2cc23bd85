import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type PullEvent, PullProgressTracker } from '../../../src/docker/pull-progress.js';
import { authFor, registryOf } from '../../../src/docker/registry-auth.js';

/** A pull of a two-layer image as Docker Engine 20.10 streams it (ids shortened; sizes as sent), one layer cached. */
const RECORDED: PullEvent[] = [
  { status: 'Pulling from library/example', id: 'latest' },
  { status: 'Already exists', id: '31b3f1ad4ce1' },
  { status: 'Pulling fs layer', id: 'a2abf6c4d29d', progressDetail: {} },
  { status: 'Pulling fs layer', id: 'b9f3c5e2d1a0', progressDetail: {} },
  { status: 'Waiting', id: 'b9f3c5e2d1a0', progressDetail: {} },
  { status: 'Downloading', id: 'a2abf6c4d29d', progressDetail: { current: 310_000, total: 3_100_000 } },
  { status: 'Downloading', id: 'b9f3c5e2d1a0', progressDetail: { current: 100_000, total: 900_000 } },
  { status: 'Downloading', id: 'a2abf6c4d29d', progressDetail: { current: 3_100_000, total: 3_100_000 } },
  { status: 'Verifying Checksum', id: 'a2abf6c4d29d', progressDetail: {} },
  { status: 'Download complete', id: 'a2abf6c4d29d', progressDetail: {} },
  { status: 'Extracting', id: 'a2abf6c4d29d', progressDetail: { current: 1_550_000, total: 3_100_000 } },
  { status: 'Download complete', id: 'b9f3c5e2d1a0', progressDetail: {} },
  { status: 'Extracting', id: 'a2abf6c4d29d', progressDetail: { current: 3_100_000, total: 3_100_000 } },
  { status: 'Pull complete', id: 'a2abf6c4d29d', progressDetail: {} },
  { status: 'Extracting', id: 'b9f3c5e2d1a0', progressDetail: { current: 900_000, total: 900_000 } },
  { status: 'Pull complete', id: 'b9f3c5e2d1a0', progressDetail: {} },
  { status: 'Digest: sha256:0123abcd' },
  { status: 'Status: Downloaded newer image for example:latest' },
];

describe('pull progress', () => {
  it('carries bytes and a percentage that only grows, reaching 100 when every layer is complete', () => {
    const tracker = new PullProgressTracker();
    const out = RECORDED.map((e) => tracker.push(e));
    expect(out.every(Boolean)).toBe(true);
    expect(out[0]?.message).toBe('latest: Pulling from library/example');
    // Both layers announced, 310 kB + 100 kB of 4 MB downloaded: 5 % (downloads count for half).
    expect(out[6]).toEqual({
      message: 'b9f3c5e2d1a0: Downloading',
      currentBytes: 410_000,
      totalBytes: 4_000_000,
      percent: 5,
    });
    expect(out[9]).toMatchObject({ currentBytes: 3_200_000, totalBytes: 4_000_000 });
    const percents = out.map((p) => p?.percent ?? 0);
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1] as number);
    expect(percents.slice(0, -3).every((p) => p < 100)).toBe(true);
    expect(out.at(-1)).toMatchObject({ currentBytes: 4_000_000, totalBytes: 4_000_000, percent: 100 });
    // The cached layer has no size and is not part of the total.
    expect(out[1]).toEqual({ message: '31b3f1ad4ce1: Already exists' });
  });

  it('says 100 % for an image whose layers all exist, and nothing for an event without a status', () => {
    const tracker = new PullProgressTracker();
    expect(tracker.push({ progressDetail: {} })).toBeUndefined();
    tracker.push({ status: 'Already exists', id: 'aaa' });
    expect(tracker.push({ status: 'Status: Image is up to date for x:latest' })).toEqual({
      message: 'Status: Image is up to date for x:latest',
    });
  });
});

describe('registry credentials', () => {
  it('reads the registry host of a reference as Docker does', () => {
    expect(registryOf('ubuntu:22.04')).toBe('docker.io');
    expect(registryOf('itzg/minecraft-server')).toBe('docker.io');
    expect(registryOf('ghcr.io/pterodactyl/yolks:java_17')).toBe('ghcr.io');
    expect(registryOf('registry.local:5000/game')).toBe('registry.local:5000');
    expect(registryOf('localhost/game')).toBe('localhost');
  });

  it('sends the matching credentials, reading a passwordFile at each pull', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cap-registry-'));
    const file = path.join(dir, 'pw');
    await writeFile(file, 'first\n');
    const registries = {
      'ghcr.io': { username: 'bot', passwordFile: file },
      'docker.io': { username: 'hub', password: 'hubpw' },
    };
    expect(await authFor('ghcr.io/x/y:1', registries)).toEqual({
      username: 'bot',
      password: 'first',
      serveraddress: 'ghcr.io',
    });
    await writeFile(file, 'second\n');
    expect((await authFor('ghcr.io/x/y:1', registries))?.password).toBe('second');
    expect(await authFor('itzg/minecraft-server', registries)).toMatchObject({
      username: 'hub',
      serveraddress: 'https://index.docker.io/v1/',
    });
    expect(await authFor('quay.io/a/b', registries)).toBeUndefined();
  });
});
