/**
 * A counting gate: at most `limit` holders at once, the rest wait in arrival order. Used to bound
 * calls to an outside service per process (Toss) independently of how many jobs a worker holds,
 * so the database work of some jobs overlaps the calls of others.
 */
export interface Gate {
  readonly limit: number;
  /** Holders now. */
  readonly active: number;
  /** Waits for a place; rejects with the signal's reason if it aborts first (no place is taken). */
  acquire(signal?: AbortSignal): Promise<void>;
  release(): void;
}

export function createGate(limit: number): Gate {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`a gate needs a positive limit (got ${limit})`);
  let active = 0;
  const waiting: { resolve: () => void }[] = [];
  return {
    limit,
    get active() {
      return active;
    },
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (active < limit) {
        active++;
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const i = waiting.indexOf(waiter);
          if (i >= 0) waiting.splice(i, 1);
          reject(signal!.reason);
        };
        // The listener goes with the wait: a long-lived signal (a worker's) must not gather them.
        const waiter = {
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        waiting.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    release() {
      const next = waiting.shift();
      // The place passes straight to the next waiter: `active` stays the same.
      if (next) next.resolve();
      else if (active > 0) active--;
    },
  };
}
