/** Keeps background work alive after the answer (the request's `waitUntil`). */
export type WaitUntil = (work: Promise<unknown>) => void;

/** The request's `waitUntil`, when it has one (a request built by a test may not). */
export function waitUntilOf(c: {
  executionCtx: { waitUntil(work: Promise<unknown>): void };
}): WaitUntil | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}
