// What the scenarios share besides the agent launcher (test/helpers/agent-process.mjs): a percentile, and the
// tests' poll with a longer default, since a bench loads a shared machine (50 servers at once) as no test does.
import { waitFor as poll } from '../../test/helpers/agent-client.mjs';

export function waitFor(probe, what, timeoutMs = 60_000) {
  return poll(probe, what, timeoutMs);
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
