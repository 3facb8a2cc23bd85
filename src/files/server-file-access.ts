import { randomBytes } from 'node:crypto';
import type { AgentConfig } from '../config/schema.js';
import { AgentError } from '../errors.js';
import type { ServerContext } from '../servers/context.js';
import type { Server } from '../servers/server.js';
import { Archiver } from './archives.js';
import { IdNames } from './file-info.js';
import { toSegments } from './path-rules.js';
import { type Quota, ServerFiles } from './server-files.js';

const MIB = 1024 * 1024;

/** Turns a denylist glob into a regex over root-relative paths: `**` spans directories, `*` stays in a name. */
export function globToRegExp(glob: string): RegExp {
  const trimmed = glob.replace(/^\/+/, '');
  let out = '';
  for (let i = 0; i < trimmed.length; i++) {
    const ch = trimmed[i] as string;
    if (ch === '*' && trimmed[i + 1] === '*') {
      out += '.*';
      i++;
      if (trimmed[i + 1] === '/') i++;
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else out += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/**
 * The file sandbox of each server, built on demand and shared: the jail, the quota (the server's disk limit
 * against the cached disk figure), ownership, the denylist and background operations.
 */
export class FileAccess {
  private readonly names = new IdNames();
  private readonly deny: RegExp[];
  private readonly compiled = new WeakMap<object, RegExp[]>();

  constructor(
    private readonly ctx: ServerContext,
    readonly config: AgentConfig['files'],
  ) {
    this.deny = config.denylist.map(globToRegExp);
  }

  quota(server: Server): Quota {
    const { disk } = this.ctx;
    return {
      reserve: async (deltaBytes) => {
        const limitMb = server.spec.limits.disk;
        if (limitMb === 0 || deltaBytes <= 0) return;
        const used = await disk.usedBytes(server.id, server.dataDir);
        if (used + deltaBytes > limitMb * MIB) {
          throw new AgentError(
            'DISK_LIMIT',
            `this would use ${((used + deltaBytes) / MIB).toFixed(1)} MiB of the server's ${limitMb} MiB disk limit`,
          );
        }
      },
      adjust: (deltaBytes) => disk.adjust(server.id, deltaBytes),
    };
  }

  files(server: Server): ServerFiles {
    return new ServerFiles(
      server.dataDir,
      {
        readMaxBytes: this.config.readMaxBytes,
        downloadMaxBytes: this.config.downloadMaxBytes,
        listMaxEntries: this.config.listMaxEntries,
        searchMaxResults: this.config.searchMaxResults,
        searchMaxDepth: this.config.searchMaxDepth,
        searchTimeMs: this.config.searchTimeMs,
      },
      this.names,
      this.ctx.runAs,
      this.quota(server),
    );
  }

  archiver(server: Server): Archiver {
    return new Archiver(this.files(server), this.quota(server), this.ctx.runAs);
  }

  /** The server's own patterns (create_server `denylist`), compiled once per spec. */
  private serverDeny(server: Server): RegExp[] {
    const patterns = server.spec.denylist ?? [];
    if (patterns.length === 0) return [];
    let compiled = this.compiled.get(server.spec);
    if (!compiled) {
      compiled = patterns.map(globToRegExp);
      this.compiled.set(server.spec, compiled);
    }
    return compiled;
  }

  /** Refuses a path the node's or the server's denylist covers (checked on the lexical, normalised path). */
  checkAllowed(server: Server, input: unknown, field = 'path'): void {
    const own = this.serverDeny(server);
    if (this.deny.length === 0 && own.length === 0) return;
    const relative = toSegments(input, field).join('/');
    if (this.deny.some((re) => re.test(relative)) || own.some((re) => re.test(relative))) {
      throw new AgentError('PERMISSION_DENIED', `${field}: /${relative} is on the file denylist`);
    }
  }

  /**
   * bg mode (PROTOCOL.md §2.4): the work runs at most `backgroundAfterMs` in the request; if unfinished the reply
   * is `{pending, operationId}` and an operation_completed event carries the result.
   */
  async background(
    server: Server,
    action: string,
    work: () => Promise<Record<string, unknown>>,
  ): Promise<Record<string, unknown>> {
    const operationId = `op_${randomBytes(8).toString('hex')}`;
    const running = work();
    let timer: NodeJS.Timeout | undefined;
    const later = new Promise<'later'>((resolve) => {
      timer = setTimeout(() => resolve('later'), this.config.backgroundAfterMs);
    });
    const first = await Promise.race([running, later]).finally(() => clearTimeout(timer));
    if (first !== 'later') return first;
    running.then(
      (data) => this.ctx.bus.publish('operation_completed', server.id, { operationId, action, success: true, data }),
      (err: unknown) => {
        const error = err instanceof AgentError ? err : new AgentError('INTERNAL_ERROR', 'operation failed');
        server.log.warn({ err, action, operationId }, 'background file operation failed');
        this.ctx.bus.publish('operation_completed', server.id, {
          operationId,
          action,
          success: false,
          error: { code: error.code, message: error.message },
        });
      },
    );
    return { pending: true, operationId };
  }
}
