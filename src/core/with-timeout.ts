/** What `withTimeout` resolves to when the work did not finish in time. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * Races work against a timer: the work's value, or TIMED_OUT after `ms` (the work is not cancelled, only no longer
 * waited for). The timer is cleared either way, so it never holds the process open.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
