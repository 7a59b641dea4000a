/**
 * Waits until `done()` holds or `timeoutMs` passes, on this request's own timers only (every
 * 1, 2, 4 … 16 ms); true when done. How a request waits for work another request does: workerd
 * ties a promise to the request whose I/O settles it, so a request awaiting another's promise
 * (or one the other settles) is cancelled when that request ends, or resumed in its context
 * ("Cannot perform I/O on behalf of a different request"; "code had hung").
 */
export async function pollUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const started = Date.now();
  let pause = 1;
  while (!done()) {
    if (Date.now() - started >= timeoutMs) return false;
    await new Promise((wake) => setTimeout(wake, pause));
    pause = Math.min(pause * 2, 16);
  }
  return true;
}
