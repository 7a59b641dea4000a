import type { Clock } from "../domain/clock.ts";

/** How long a claim waits before the drain starts, so that a rush drains in batches. */
const DRAIN_DELAY_MS = 25;
/** After an unexpected drain error (a bug, not a sink failure), try again this much later. */
export const DRAIN_ERROR_RETRY_MS = 1_000;

/**
 * The object's one alarm, shared by the outbox drain and the end of checkout holds: it is set for
 * whichever comes first, and the alarm handler does both. `at` is what this object believes is
 * set (real time, epoch ms); non-null while an alarm is scheduled or running.
 */
export class AlarmPlan {
  readonly #storage: DurableObjectStorage;
  #at: number | null = null;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
  }

  /** Reads the alarm a previous instance left (the constructor, inside blockConcurrencyWhile). */
  async load(): Promise<number | null> {
    this.#at = await this.#storage.getAlarm();
    return this.#at;
  }

  /** The alarm within DRAIN_DELAY_MS (sooner than one set for a hold's end, if need be). */
  drainSoon(): void {
    this.noLaterThan(Date.now() + DRAIN_DELAY_MS);
  }

  /** Makes sure the alarm comes no later than `at` (null: nothing to wait for). */
  noLaterThan(at: number | null): void {
    if (at === null || (this.#at !== null && this.#at <= at)) return;
    this.#at = at;
    void this.#storage.setAlarm(at);
  }

  /**
   * Sets the next alarm once one has run: the drain's next step or the next hold's end, whichever
   * is first (both null: none).
   */
  async afterRun(drain: number | null, holdEnd: number | null): Promise<void> {
    const next = drain === null ? holdEnd : holdEnd === null ? drain : Math.min(drain, holdEnd);
    this.#at = next;
    if (next === null) return;
    try {
      await this.#storage.setAlarm(next);
    } catch (err) {
      // Let the next claim schedule a drain again rather than believe one is coming.
      this.#at = null;
      throw err;
    }
  }
}

/** A time on `clock` (a test's may run ahead) as real time, for the alarm; never in the past. */
export function realTime(at: number | null, clock: Clock): number | null {
  return at === null ? null : Date.now() + Math.max(0, at - clock.now());
}
