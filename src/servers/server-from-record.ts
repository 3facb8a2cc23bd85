import path from 'node:path';
import { dataDirLayout } from '../config/data-dir.js';
import { ServerConsole } from './console.js';
import type { ServerContext } from './context.js';
import { Server } from './server.js';
import type { PersistedServer } from './store.js';

/** A server object for a persisted (or just created) record: its console, persistence, aliases and directory. */
export function serverFromRecord(
  ctx: Pick<ServerContext, 'bus' | 'config' | 'store' | 'registry' | 'log'>,
  record: PersistedServer,
): Server {
  const id = record.spec.id;
  const { servers } = ctx.config;
  return new Server(record, {
    bus: ctx.bus,
    console: new ServerConsole({
      serverId: id,
      bus: ctx.bus,
      historyLines: record.spec.consoleBufferLines ?? servers.consoleHistoryLines,
      historyBytes: servers.consoleHistoryBytes,
      floodLinesPerSecond: servers.consoleFloodLinesPerSecond,
      maxBytesPerSecond: servers.consoleMaxBytesPerSecond,
    }),
    persist: (r) => ctx.store.save(r),
    aliases: () => ctx.registry.aliasesOf(id),
    log: ctx.log.child({ serverId: id }),
    dataDir: path.join(dataDirLayout(ctx.config.dataDir).volumes, id),
  });
}
