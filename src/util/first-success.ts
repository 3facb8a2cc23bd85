/**
 * `read` called at most until it first succeeds: later calls share that result, a failed read is not kept (the
 * next call tries again), and callers that arrive while a read is in flight share it.
 */
export function firstSuccess<T>(read: () => Promise<T>): () => Promise<T> {
  let kept: Promise<T> | undefined;
  return () => {
    if (!kept) {
      const attempt = read();
      kept = attempt;
      attempt.catch(() => {
        if (kept === attempt) kept = undefined;
      });
    }
    return kept;
  };
}
