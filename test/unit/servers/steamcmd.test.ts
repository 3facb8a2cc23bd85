import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { workshopIdFromSteamUrl } from '../../../src/mods/steam-url.js';
import {
  appUpdateArgs,
  isSteamId,
  steamAppIdFrom,
  steamCmdStep,
  workshopContentPath,
  workshopDownloadArgs,
} from '../../../src/servers/steamcmd.js';
import { SteamCmdOutput, steamCmdFailureLine } from '../../../src/servers/steamcmd-output.js';

describe('SteamCMD failure lines', () => {
  it('finds the lines SteamCMD prints when it fails, whatever its exit code', () => {
    for (const line of [
      'ERROR! Download item 666 failed (Failure).',
      'ERROR! Timeout downloading item 2503622437',
      "ERROR! Failed to install app '740' (No subscription)",
      "Error! App '740' state is 0x202 after update job.",
      "Logging in user 'anonymous' to Steam Public...FAILED (No Connection)",
      'FAILED login with result code Invalid Password',
      'Login Failure: Rate Limit Exceeded',
      '\x1b[0mERROR! Download item 1 failed (Access Denied).\x1b[0m',
    ]) {
      expect(steamCmdFailureLine(line), line).toBeDefined();
    }
    expect(steamCmdFailureLine('\x1b[31mERROR! Download item 1 failed (Failure).')).toBe(
      'ERROR! Download item 1 failed (Failure).',
    );
  });

  it('leaves success, progress and warnings alone', () => {
    for (const line of [
      'Success. Downloaded item 2503622437 to "/mnt/server/x/steamapps/workshop/content/4020/2503622437" (29 bytes)',
      "Success! App '740' fully installed.",
      "Logging in user 'anonymous' to Steam Public...OK",
      "Redirecting stderr to '/root/Steam/logs/stderr.txt'",
      'WARNING: setlocale("en_US.UTF-8") failed, using locale: "C".',
      ' Update state (0x61) downloading, progress: 42.17 (1234 / 2926)',
      'Loading Steam API...OK',
      '',
    ]) {
      expect(steamCmdFailureLine(line), line).toBeUndefined();
    }
  });

  it('shows at most maxBytes of output but still finds a failure printed past it, and says what it hid', () => {
    const shown: string[] = [];
    const out = new SteamCmdOutput(100, (lines) => shown.push(...lines));
    const progress = Array.from({ length: 50 }, (_, i) => ` Update state (0x61) downloading, progress: ${i}.00`);
    out.push(progress);
    out.push(['ERROR! Download item 9 failed (Failure).']);
    out.finish();
    expect(out.failure).toBe('ERROR! Download item 9 failed (Failure).');
    const visible = shown.slice(0, -1);
    expect(visible.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0)).toBeLessThanOrEqual(100);
    expect(shown.at(-1)).toMatch(/^\[agent\] \d+ more SteamCMD line\(s\) past 100 bytes not shown/);
    // The reason's tail keeps the end of the run, shown or not.
    expect(out.lastLines().at(-1)).toBe('ERROR! Download item 9 failed (Failure).');
    expect(out.lastLines().length).toBeLessThanOrEqual(20);
  });

  it('keeps the first failure, and says nothing extra when everything fit', () => {
    const shown: string[] = [];
    const out = new SteamCmdOutput(10_000, (lines) => shown.push(...lines));
    out.push(["Error! App '1' state is 0x202 after update job.", 'ERROR! Download item 2 failed (Failure).']);
    out.finish();
    expect(out.failure).toBe("Error! App '1' state is 0x202 after update job.");
    expect(shown).toHaveLength(2);
  });
});

describe('SteamCMD command lines', () => {
  it('sets the install dir before logging in, and quits', () => {
    expect(workshopDownloadArgs('/mnt/server/.steamcmd-op_1', '4020', '2503622437')).toEqual([
      '+force_install_dir',
      '/mnt/server/.steamcmd-op_1',
      '+login',
      'anonymous',
      '+workshop_download_item',
      '4020',
      '2503622437',
      '+quit',
    ]);
    expect(appUpdateArgs('/mnt/server', '740')).toEqual([
      '+force_install_dir',
      '/mnt/server',
      '+login',
      'anonymous',
      '+app_update',
      '740',
      'validate',
      '+quit',
    ]);
    expect(workshopContentPath('4020', '7')).toBe('steamapps/workshop/content/4020/7');
  });

  it('accepts only numbers as ids', () => {
    expect(isSteamId('2503622437')).toBe(true);
    for (const bad of ['', '12a', '+quit', '1 +app_update 2', '-1', '1'.repeat(21)]) expect(isSteamId(bad)).toBe(false);
  });

  it('takes the app id from the environment in the protocol order', () => {
    expect(steamAppIdFrom({ APP_ID: '3', SRCDS_APPID: '2', STEAM_APP_ID: '1' })).toBe('1');
    expect(steamAppIdFrom({ APP_ID: '3', SRCDS_APPID: '2' })).toBe('2');
    expect(steamAppIdFrom({ APP_ID: '3' })).toBe('3');
    expect(steamAppIdFrom({ SRCDS_APPID: '' })).toBeUndefined();
  });
});

describe('install steps that name steamcmd', () => {
  it('replaces a step whose entrypoint is steamcmd, runs before one in a SteamCMD image, ignores the rest', () => {
    expect(steamCmdStep({ container: undefined, entrypoint: 'steamcmd' })).toBe('instead');
    expect(steamCmdStep({ container: 'debian', entrypoint: '/usr/bin/steamcmd' })).toBe('instead');
    for (const image of [
      'steamcmd/steamcmd:latest',
      '~steamcmd/steamcmd',
      'cm2network/steamcmd:root',
      'ghcr.io/example/steamcmd@sha256:abc',
      'registry.example.com:5000/games/SteamCMD:debian',
    ]) {
      expect(steamCmdStep({ container: image, entrypoint: 'bash' }), image).toBe('before');
    }
    for (const image of [
      'ghcr.io/pterodactyl/installers:debian',
      'steamcmd-tools/base',
      'debian:steamcmd',
      undefined,
    ]) {
      expect(steamCmdStep({ container: image, entrypoint: 'bash' }), String(image)).toBeUndefined();
    }
  });
});

describe('workshop ids in steam:// URLs', () => {
  it('reads the forms the panel and Steam use', () => {
    expect(workshopIdFromSteamUrl('steam://workshop/download/2503622437')).toBe('2503622437');
    expect(workshopIdFromSteamUrl('steam://url/CommunityFilePage/2503622437')).toBe('2503622437');
    expect(
      workshopIdFromSteamUrl('steam://openurl/https://steamcommunity.com/sharedfiles/filedetails/?id=2503622437'),
    ).toBe('2503622437');
    expect(workshopIdFromSteamUrl('steam://77')).toBe('77');
    expect(workshopIdFromSteamUrl('steam://workshop/download/')).toBeUndefined();
    expect(workshopIdFromSteamUrl('https://example.com/1')).toBeUndefined();
  });

  it('returns nothing or a run of digits that is in the URL, for any input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (tail) => {
        const url = `steam://${tail}`;
        const id = workshopIdFromSteamUrl(url);
        if (id !== undefined) {
          expect(id).toMatch(/^\d{1,20}$/);
          expect(url).toContain(id);
        }
      }),
    );
  });
});
