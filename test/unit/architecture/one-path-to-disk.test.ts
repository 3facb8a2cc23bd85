import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * One path to disk (STYLE.md, issue 10): every touch of a server's files goes through the sandbox in src/files.
 * A module outside it may import node:fs only for files the agent itself owns, and says so here; a new import
 * anywhere else fails this test. Type-only imports do not count.
 */
const AGENT_OWN_FILES: Record<string, string> = {
  'src/cli/diagnostics.ts': "the log file's tail, /etc/os-release, the data directory's listing (names and sizes)",
  'src/cli/doctor.ts': 'reads the mount table and cgroup.controllers',
  'src/cli/data-dir-check.ts': "checks the data directory and its token file's mode",
  'src/cli/token.ts': 'creates the data directory for the token file',
  'src/config/data-format.ts': "the data directory's format file",
  'src/config/sources.ts': '*_FILE secrets named by environment variables',
  'src/docker/registry-auth.ts': 'registry password files (docker.registries.*.passwordFile)',
  'src/logging.ts': "creates log.file's directory",
  'src/config/identity.ts': 'the agent id and the token file in the data directory',
  'src/config/load.ts': 'the config file',
  'src/agent/identity.ts': 'creates the data directory',
  'src/agent/http.ts': 'reads the TLS files',
  'src/metrics/cgroup-stats.ts': 'cgroup files of containers (kernel interfaces, not tenant files)',
  'src/metrics/host-metrics.ts': '/proc and statfs of the data directory',
  'src/panel/outbox.ts': 'the panel outbox in the data directory',
  'src/panel/panel-link.ts': 'the panel CA file',
  'src/servers/install.ts': 'creates a new server directory (mkdir) before anything runs in it',
  'src/servers/install-log.ts': 'install logs in the data directory (install-logs/), not in a server directory',
  'src/servers/manager.ts': "removes a deleted server's whole directory after its container is gone",
  'src/servers/store.ts': 'server specs in the data directory',
  'src/util/atomic-file.ts': 'atomic writes of agent state in the data directory',
  'src/version.ts': 'package.json',
};

const FS_IMPORT = /^import\s+(?!type\b)[^;]*?from\s+'node:fs(?:\/promises)?'/m;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('one path to disk', () => {
  const files = sources('src').map((f) => f.split(path.sep).join('/'));

  it('imports node:fs outside src/files only for the agent’s own files', () => {
    const offenders = files.filter(
      (f) => !f.startsWith('src/files/') && !(f in AGENT_OWN_FILES) && FS_IMPORT.test(readFileSync(f, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('keeps the allowlist honest: every entry still imports node:fs', () => {
    const stale = Object.keys(AGENT_OWN_FILES).filter((f) => !FS_IMPORT.test(readFileSync(f, 'utf8')));
    expect(stale).toEqual([]);
  });

  it('never reaches into the jail from outside the sandbox', () => {
    const offenders = files.filter(
      (f) =>
        !f.startsWith('src/files/') && /\.jail\b|files\/jail\.js|files\/tree-walk\.js/.test(readFileSync(f, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
