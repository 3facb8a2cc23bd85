import { AgentError } from '../../errors.js';
import { type AgentEvent, EVENT_NAMES, type EventBus, type EventName } from '../../events/bus.js';
import type { Frame } from '../../protocol/frames.js';
import { decideResume } from '../../protocol/resume.js';
import type { TicketClaims } from '../../protocol/tickets.js';
import type { ServerRegistry } from '../../servers/registry.js';

interface Filter {
  servers: Set<string> | '*';
  events: Set<EventName> | '*';
}

const EVENT_SET: ReadonlySet<string> = new Set(EVENT_NAMES);

/** The answer to a subscribe: the response data, then the missed events to replay after it. */
export interface Subscribed {
  data: Record<string, unknown>;
  replay: AgentEvent[];
}

/**
 * What one authenticated socket receives (PROTOCOL.md §6.3): the subscribe/unsubscribe filters, resume from
 * `since`, and the scope of a ticket (its own server only; status changes only without console.read).
 */
export class Subscriptions {
  private filter: Filter | undefined;

  constructor(
    private readonly registry: ServerRegistry,
    private readonly bus: EventBus,
    /** The ticket's claims, or undefined for the node token. */
    private readonly ticket: TicketClaims | undefined,
  ) {}

  private servers(raw: unknown): Set<string> | '*' | AgentError {
    if (this.ticket) return new Set([this.ticket.sid]);
    if (raw === undefined || raw === '*') return '*';
    if (!Array.isArray(raw) || raw.length > 10_000 || !raw.every((s) => typeof s === 'string')) {
      return new AgentError('INVALID_PAYLOAD', 'servers: must be "*" or an array of server ids');
    }
    // Unknown ids are kept as given: a server created later under that id is then included.
    return new Set(raw.map((id) => this.registry.find(id)?.id ?? id));
  }

  private events(raw: unknown): Set<EventName> | '*' | AgentError {
    if (this.ticket && !this.ticket.perms.includes('console.read')) {
      return new Set<EventName>(['server_status_changed']);
    }
    if (raw === undefined || raw === '*') return '*';
    if (!Array.isArray(raw) || !raw.every((e) => typeof e === 'string' && EVENT_SET.has(e))) {
      return new AgentError('INVALID_PAYLOAD', `events: must be "*" or an array of ${EVENT_NAMES.join(', ')}`);
    }
    return new Set(raw as EventName[]);
  }

  subscribe(frame: Frame): Subscribed | AgentError {
    const servers = this.servers(frame.servers);
    if (servers instanceof AgentError) return servers;
    const events = this.events(frame.events);
    if (events instanceof AgentError) return events;
    this.filter = { servers, events };

    const { bus } = this;
    const decision = decideResume(frame.since, bus);
    const replay = decision?.resumed ? decision.missed.filter((e) => this.matches(e)) : [];
    const resume: Record<string, unknown> = decision?.resumed
      ? { resumed: true, replayed: replay.length }
      : { resumed: false, replayed: 0, ...(decision ? { reason: decision.reason } : {}) };
    const snapshot = this.registry
      .list()
      .filter((s) => servers === '*' || servers.has(s.id))
      .map((s) => ({ serverId: s.id, aliases: s.aliases, status: s.state }));
    return {
      data: {
        servers: servers === '*' ? '*' : [...servers],
        events: events === '*' ? '*' : [...events],
        epoch: bus.epoch,
        seq: bus.currentSeq,
        ...resume,
        snapshot,
      },
      replay,
    };
  }

  /** Narrows the filter; with no filters, or "*", ends the subscription. Returns whether one is left. */
  unsubscribe(frame: Frame): boolean {
    const filter = this.filter;
    if (filter) {
      const servers = frame.servers === undefined ? undefined : this.servers(frame.servers);
      const events = frame.events === undefined ? undefined : this.events(frame.events);
      if (servers === '*' || (servers === undefined && events === undefined) || events === '*') this.filter = undefined;
      else {
        if (servers instanceof Set && filter.servers !== '*') for (const s of servers) filter.servers.delete(s);
        if (events instanceof Set && filter.events !== '*') for (const e of events) filter.events.delete(e);
      }
    }
    return this.filter !== undefined;
  }

  matches(event: AgentEvent): boolean {
    const filter = this.filter;
    if (!filter) return false;
    if (filter.events !== '*' && !filter.events.has(event.event)) return false;
    // Node-wide events (no serverId) are for the node token only.
    if (event.serverId === undefined) return this.ticket === undefined;
    return filter.servers === '*' || filter.servers.has(event.serverId);
  }

  /** Whether this socket wants resource_update for a server (the stats pusher samples only those). */
  wantsStats(serverId: string): boolean {
    const filter = this.filter;
    if (!filter || (filter.events !== '*' && !filter.events.has('resource_update'))) return false;
    return filter.servers === '*' || filter.servers.has(serverId);
  }
}
