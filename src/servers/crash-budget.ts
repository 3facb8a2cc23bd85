/**
 * The restart budget after crashes (PROTOCOL.md §7): at most `max` automatic restarts per server within a sliding
 * `windowMs`, each one waiting twice as long as the one before in the window (1 s, 2 s, 4 s …) so a crash loop
 * does not spin. Pure, with the clock passed in, so the budget and the back-off are unit-tested.
 */
export type CrashDecision = { restart: true; attempt: number; delayMs: number } | { restart: false; crashes: number };

export class CrashBudget {
  private readonly restarts = new Map<string, number[]>();
  private readonly exhausted = new Set<string>();

  constructor(
    private readonly limits: () => { max: number; windowMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  private recent(serverId: string): number[] {
    const { windowMs } = this.limits();
    const now = this.now();
    return (this.restarts.get(serverId) ?? []).filter((t) => now - t < windowMs);
  }

  /** Records a crash and decides whether (and after how long) to restart. */
  crashed(serverId: string): CrashDecision {
    const { max } = this.limits();
    const recent = this.recent(serverId);
    if (recent.length >= max) {
      this.restarts.set(serverId, recent);
      this.exhausted.add(serverId);
      return { restart: false, crashes: recent.length + 1 };
    }
    recent.push(this.now());
    this.restarts.set(serverId, recent);
    this.exhausted.delete(serverId);
    return { restart: true, attempt: recent.length, delayMs: 1000 * 2 ** (recent.length - 1) };
  }

  /** Restarts used in the current window, and whether the budget is spent (get_server_status). */
  status(serverId: string): { used: number; max: number; exhausted: boolean } {
    return { used: this.recent(serverId).length, max: this.limits().max, exhausted: this.exhausted.has(serverId) };
  }

  forget(serverId: string): void {
    this.restarts.delete(serverId);
    this.exhausted.delete(serverId);
  }
}
