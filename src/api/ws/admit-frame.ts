import { CLOSE, type Frame, FrameError, parseFrame } from '../../protocol/frames.js';
import type { FrameBudget } from './rate-limiter.js';

/** A frame to handle, one to answer RATE_LIMITED (over the rate, not yet a flood), or a reason to close. */
export type Intake =
  | { kind: 'frame'; frame: Frame }
  | { kind: 'refused'; frame: Frame }
  | { kind: 'close'; code: number; reason: string };

/**
 * The gate every inbound message passes before anything reads it: text only, within the frame budget (charged
 * before parsing, so the frame that closes a flood is never parsed), and a well-formed frame.
 */
export function admitFrame(data: Buffer, isBinary: boolean, budget: Pick<FrameBudget, 'admit'>): Intake {
  if (isBinary) return { kind: 'close', code: CLOSE.UNSUPPORTED_DATA, reason: 'binary frames are not supported' };
  const admission = budget.admit();
  if (admission === 'close') return { kind: 'close', code: CLOSE.RATE_LIMITED, reason: 'rate limit exceeded' };
  let frame: Frame;
  try {
    frame = parseFrame(data.toString('utf8'));
  } catch (err) {
    if (err instanceof FrameError) return { kind: 'close', code: err.closeCode, reason: err.message };
    throw err;
  }
  return admission === 'refuse' ? { kind: 'refused', frame } : { kind: 'frame', frame };
}
