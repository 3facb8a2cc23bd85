/** Cap of the reconnect delay (PROTOCOL.md §6.4). */
export const RECONNECT_CAP_MS = 60_000;
const BASE_MS = 1_000;

/**
 * Delay before redial number `attempt` (0-based): `d = min(cap, base·2^attempt)`, then `d/2 + rand(0, d/2)`.
 * Equal jitter keeps at least half the delay, so a fleet of agents never redials in lock-step after a panel
 * restart yet none of them spins. `random` is a parameter so tests can pin it.
 */
export function reconnectDelayMs(
  attempt: number,
  random: () => number = Math.random,
  capMs: number = RECONNECT_CAP_MS,
  baseMs: number = BASE_MS,
): number {
  // 2^attempt overflows to Infinity long before it matters; min() keeps it finite.
  const d = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(d / 2 + random() * (d / 2));
}
