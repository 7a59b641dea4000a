/** What `withTimeout` rejects with. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** Rejects when `promise` takes longer than `ms`: a hung sink must not hold the drain forever. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  // Once timed out, the request may still fail later: that late failure is expected, not uncaught.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** A fetch that gives up after `ms` (passed to clients that accept a custom fetch). */
export function fetchWithTimeout(ms: number): typeof fetch {
  return (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(ms) });
}
