import { TimeoutError, withTimeout } from "../../platform/timeout.ts";
import { ProblemError } from "../problems.ts";

/** An object call slower than this answers 503 instead of holding the caller for seconds. */
export const CALL_TIMEOUT_MS = 3_000;

/**
 * Calls an object with a deadline. An overloaded object answers 503 at once; an error the
 * platform marks retryable (a lost connection, a reset object) is retried once on a fresh stub
 * (every call made here is idempotent: a claim retried gives the same coupon).
 */
export async function callObject<T>(call: () => PromiseLike<T>): Promise<T> {
  try {
    return await withTimeout(Promise.resolve(call()), CALL_TIMEOUT_MS, "event object");
  } catch (err) {
    if (!isRetryable(err) || isOverloaded(err)) throw asUnavailable(err);
    try {
      return await withTimeout(Promise.resolve(call()), CALL_TIMEOUT_MS, "event object");
    } catch (again) {
      throw asUnavailable(again);
    }
  }
}

type PlatformError = Error & { retryable?: boolean; overloaded?: boolean };

function isRetryable(err: unknown): boolean {
  return err instanceof Error && (err as PlatformError).retryable === true;
}

function isOverloaded(err: unknown): boolean {
  return err instanceof Error && (err as PlatformError).overloaded === true;
}

/**
 * A busy or unreachable object: the caller should come back in a second, not wait. A connection
 * to the objects' process that is lost or refused (locally, across processes) is one of these.
 */
export function asUnavailable(err: unknown): unknown {
  if (err instanceof ProblemError) return err;
  if (!(err instanceof TimeoutError) && !isRetryable(err) && !isOverloaded(err) && !isLost(err))
    return err;
  return new ProblemError("unavailable", {
    detail: "The event is busy; try again.",
    retryAfter: 1,
  });
}

/** workerd's words for a peer that went away or cannot be reached. */
function isLost(err: unknown): boolean {
  return (
    err instanceof Error &&
    /Network connection lost|connection refused|ECONNREFUSED|disconnected/i.test(err.message)
  );
}
