import type { Logger } from 'pino';

/**
 * Everything the agent opens, registered as it is built and closed in reverse order of registration (STYLE.md
 * "typed lifecycles and disposal"): what was built on top of something is closed before it. A close that fails
 * is logged and the rest still run; none may hang shutdown past `timeoutMs`.
 */
export class Closers {
  private readonly stack: { name: string; close: () => unknown }[] = [];

  constructor(
    private readonly log: Logger,
    private readonly timeoutMs = 10_000,
  ) {}

  /** Registers `close` and returns `value`, so a resource is registered where it is built. */
  add<T>(name: string, value: T, close: (value: T) => unknown): T {
    this.stack.push({ name, close: () => close(value) });
    return value;
  }

  get names(): string[] {
    return this.stack.map((c) => c.name);
  }

  async closeAll(): Promise<void> {
    while (this.stack.length > 0) {
      const { name, close } = this.stack.pop() as { name: string; close: () => unknown };
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(close),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not close within ${this.timeoutMs} ms`)), this.timeoutMs);
            timer.unref();
          }),
        ]);
      } catch (err) {
        this.log.warn({ err, resource: name }, 'close failed during shutdown');
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
