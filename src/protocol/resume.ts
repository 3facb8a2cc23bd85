import type { AgentEvent } from './events.js';

/**
 * The resume decision of PROTOCOL.md §6.3, for the inbound socket's subscribe and the panel link's welcome
 * alike: given the client's `since: {epoch, seq}`, either the events it missed (all still in the replay buffer)
 * or the reason it must rebuild from a snapshot. A gap is never silent.
 */

export type ResumeReason = 'epoch_changed' | 'too_old' | 'ahead';

export type ResumeDecision = { resumed: true; missed: AgentEvent[] } | { resumed: false; reason: ResumeReason };

export interface ReplaySource {
  readonly epoch: string;
  readonly currentSeq: number;
  replaySince(afterSeq: number): AgentEvent[] | undefined;
}

/** undefined when the client asked for no resume (no `since` object). */
export function decideResume(since: unknown, source: ReplaySource): ResumeDecision | undefined {
  if (!since || typeof since !== 'object') return undefined;
  const { epoch, seq: rawSeq } = since as { epoch?: unknown; seq?: unknown };
  if (epoch !== source.epoch) return { resumed: false, reason: 'epoch_changed' };
  const seq = Number(rawSeq);
  // A seq that is not a whole number, or one past ours, names events this epoch never had.
  if (!Number.isInteger(seq) || seq > source.currentSeq) return { resumed: false, reason: 'ahead' };
  const missed = source.replaySince(seq);
  return missed ? { resumed: true, missed } : { resumed: false, reason: 'too_old' };
}
