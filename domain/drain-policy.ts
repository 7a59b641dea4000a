/** How an object drains its outbox: batch size, retries and their backoff (platform/config.ts sets it). */
export interface DrainPolicy {
  batchSize: number;
  /** Refusals of one record before it is dead-lettered. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long one alarm may keep delivering before it hands over to the next alarm. */
  stepBudgetMs: number;
}

/**
 * Capped exponential backoff with jitter ("equal jitter": half fixed, half random), so that many
 * objects retrying one recovered sink do not all hit it in the same instant.
 */
export function backoffMs(failures: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
