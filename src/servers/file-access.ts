import { randomBytes } from 'node:crypto';
import type { AgentConfig } from '../config/schema.js';
import { AgentError } from '../errors.js';
import { Archiver } from '../files/archives.js';
import { DenyList } from '../files/deny-list.js';
import { IdNames } from '../files/file-info.js';
import { displayPath, toSegments } from '../files/path-rules.js';
import type { Quota } from '../files/quota.js';
import { ServerFiles } from '../files/server-files.js';
import type { ServerContext } from './context.js';
import type { Server } from './server.js';

const MIB = 1024 * 1024;

/**
 * The file sandbox of each server, built on demand and shared: the jail, the quota (the server's disk limit
 * against the cached disk figure), ownership, the denylist and background operations.
 */
export class FileAccess {
  private readonly names = new IdNames();
  private readonly compiled = new WeakMap<object, DenyList>();
  /** Background operations running per server (files.backgroundPerServer). */
  private readonly running = new Map<string, number>();

  constructor(
    private readonly ctx: Pick<ServerContext, 'disk' | 'runAs' | 'bus'>,
    readonly config: AgentConfig['files'],
  ) {}

  quota(server: Server): Quota {
    const { disk } = this.ctx;
    return {
      headroom: async () => {
        const limitMb = server.spec.limits.disk;
        if (limitMb === 0) return Number.POSITIVE_INFINITY;
        return limitMb * MIB - (await disk.usedBytes(server.id, server.dataDir));
      },
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
        walkMaxDepth: this.config.walkMaxDepth,
        walkMaxEntries: this.config.walkMaxEntries,
      },
      this.names,
      this.ctx.runAs,
      this.quota(server),
      this.denyList(server),
    );
  }

  archiver(server: Server): Archiver {
    return new Archiver(this.files(server), this.ctx.runAs);
  }

  /** The node's patterns and the server's own (create_server `denylist`), compiled once per spec. */
  denyList(server: Server): DenyList {
    let compiled = this.compiled.get(server.spec);
    if (!compiled) {
      compiled = new DenyList(this.config.denylist, server.spec.denylist ?? []);
      this.compiled.set(server.spec, compiled);
    }
    return compiled;
  }

  /**
   * An early refusal for actions that hand a path to somebody else before touching it (get_file_url,
   * install_mod): the sandbox checks the resolved path again when the file is opened.
   */
  checkAllowed(server: Server, input: unknown, field = 'path'): void {
    const segments = toSegments(input, field);
    this.denyList(server).assertAllowed(field, displayPath(segments), segments);
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
    const active = this.running.get(server.id) ?? 0;
    if (active >= this.config.backgroundPerServer) {
      throw new AgentError(
        'SERVER_BUSY',
        `${active} file operations are already running for this server; try again when one has finished`,
      );
    }
    this.running.set(server.id, active + 1);
    const operationId = `op_${randomBytes(8).toString('hex')}`;
    const running = work().finally(() => {
      const left = (this.running.get(server.id) ?? 1) - 1;
      if (left > 0) this.running.set(server.id, left);
      else this.running.delete(server.id);
    });
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
