import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { DockerEngine } from './engine.js';
import { engineMessage } from './errors.js';
import { LABEL_SERVER_ID, ownerFilters } from './labels.js';

export interface ContainerEvent {
  action: 'start' | 'die' | 'oom' | 'destroy';
  containerId: string;
  serverId: string;
  exitCode: number | undefined;
}

/** The Engine's events for this agent's containers, followed across Engine restarts. */
export class DockerEvents {
  constructor(
    private readonly engine: DockerEngine,
    private readonly agentId: string,
    private readonly log: Logger,
  ) {}

  /**
   * Follows the Engine's events for this agent's containers. Reconnects with back-off when the stream ends
   * (a Docker restart); `onReconnect` runs after each reconnection so callers can reconcile what they missed.
   */
  watchEvents(onEvent: (event: ContainerEvent) => void, onReconnect: () => void): { close(): void } {
    let closed = false;
    let current: Readable | undefined;
    let attempt = 0;
    let timer: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      if (closed) return;
      try {
        const stream = (await this.engine.docker.getEvents({
          filters: {
            type: ['container'],
            label: ownerFilters(this.agentId),
            event: ['start', 'die', 'oom', 'destroy'],
          },
        })) as unknown as Readable;
        if (closed) {
          stream.destroy();
          return;
        }
        current = stream;
        if (attempt > 0) onReconnect();
        attempt = 0;
        let pending = '';
        stream.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          let nl = pending.indexOf('\n');
          while (nl >= 0) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            nl = pending.indexOf('\n');
            if (line) this.parseEvent(line, onEvent);
          }
        });
        const retry = () => {
          if (current !== stream) return;
          current = undefined;
          schedule();
        };
        stream.on('end', retry);
        stream.on('close', retry);
        stream.on('error', retry);
      } catch (err) {
        this.log.warn({ err: engineMessage(err) }, 'Docker events stream unavailable; retrying');
        schedule();
      }
    };
    const schedule = () => {
      if (closed) return;
      attempt++;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
      timer = setTimeout(() => void connect(), delay);
    };
    void connect();
    return {
      close: () => {
        closed = true;
        clearTimeout(timer);
        current?.destroy();
      },
    };
  }

  private parseEvent(line: string, onEvent: (event: ContainerEvent) => void): void {
    try {
      const raw = JSON.parse(line) as { Action?: string; id?: string; Actor?: { Attributes?: Record<string, string> } };
      const attrs = raw.Actor?.Attributes ?? {};
      const action = raw.Action;
      if (action !== 'start' && action !== 'die' && action !== 'oom' && action !== 'destroy') return;
      const serverId = attrs[LABEL_SERVER_ID];
      if (!serverId || !raw.id) return;
      const exitCode = attrs.exitCode === undefined ? undefined : Number(attrs.exitCode);
      onEvent({ action, containerId: raw.id, serverId, exitCode });
    } catch (err) {
      this.log.debug({ err }, 'ignoring an unparseable Docker event');
    }
  }
}
