/** Polls until `url` answers (any HTTP status), or fails when `exited` resolves or time runs out. */
export async function waitForHttp(
  url: string,
  opts: { timeoutMs: number; exited?: Promise<void> },
): Promise<void> {
  let dead = false;
  void opts.exited?.then(() => {
    dead = true;
  });
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (dead) throw new Error(`process serving ${url} exited before it answered`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return;
    } catch {
      if (Date.now() > deadline)
        throw new Error(`${url} did not answer within ${opts.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
