import { AgentError } from '../errors.js';

export type LockedAction = 'install' | 'reinstall' | 'start' | 'stop' | 'restart' | 'suspend' | 'delete';

interface Holder {
  action: LockedAction;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * One power lock per server (PROTOCOL.md §4.1): repeating the action in progress joins it, a conflicting one
 * gets SERVER_BUSY. Kill does not take the lock: it aborts the holder so a stuck stop ladder cannot keep a
 * server alive (the same lesson Wings learnt when kill waited behind a hung stop).
 */
export class PowerLock {
  private holder: Holder | undefined;

  /** `onError` receives what a background job throws: nobody awaits an acknowledged action's promise. */
  constructor(private readonly onError: (err: unknown, action: LockedAction) => void) {}

  get current(): LockedAction | undefined {
    return this.holder?.action;
  }

  /**
   * Claims the lock synchronously and runs `job` in the background. Returns `joined: true` when the same
   * action was already running (the job is not started again).
   */
  run(action: LockedAction, job: (signal: AbortSignal) => Promise<void>): { joined: boolean; done: Promise<void> } {
    if (this.holder) {
      if (this.holder.action === action) return { joined: true, done: this.holder.done };
      throw new AgentError('SERVER_BUSY', `server is busy: ${this.holder.action} in progress`, {
        inProgress: this.holder.action,
      });
    }
    const controller = new AbortController();
    const holder: Holder = { action, controller, done: Promise.resolve() };
    holder.done = (async () => {
      try {
        await job(controller.signal);
      } catch (err) {
        this.onError(err, action);
      } finally {
        if (this.holder === holder) this.holder = undefined;
      }
    })();
    this.holder = holder;
    return { joined: false, done: holder.done };
  }

  /** Resolves when the current holder (if any) has finished. */
  async settled(): Promise<void> {
    await this.holder?.done.catch(() => undefined);
  }

  /**
   * Aborts the holder (kill pre-empts) and releases the lock at once. The returned promise settles when the
   * aborted job has wound down, so a caller can wait for an in-flight Docker call before acting.
   */
  preempt(): Promise<void> {
    const holder = this.holder;
    this.holder = undefined;
    holder?.controller.abort(new AgentError('SERVER_BUSY', 'pre-empted by kill'));
    return holder ? holder.done.catch(() => undefined) : Promise.resolve();
  }
}
