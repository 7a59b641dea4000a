import { secondsUntil } from "../domain/ledger.ts";
import type { Grant, LeaseAnswer, ShareTotals } from "../domain/shards.ts";

/** A coordinator's refusal a shard keeps, so its users are not each sent to ask again. */
interface Verdict {
  answer: Extract<LeaseAnswer, { outcome: "refused" }>;
}

/** After an ask that got nothing, the background top-up rests this long. */
const QUIET_MS = 250;
/** The claim rate is measured over windows this long. */
const RATE_WINDOW_MS = 1_000;

/**
 * A shard's share of its event's stock (the `lease_share` row, mirrored in memory). It may issue
 * up to `limit` = granted − returned. A grant is recorded by its lease number in the same
 * transaction that raises `granted`, and only if the number is new: a grant the coordinator sends
 * twice (the shard asked again after a restart, or a recall carried it) counts once.
 */
export class LeaseShare {
  readonly #sql: SqlStorage;
  readonly shard: number;
  #granted: number;
  #returned: number;
  #nextSeq: number;
  #verdict: Verdict | null = null;
  /** A lease request is on its way (one at a time; other claims poll for its end). */
  leasing = false;
  #windowStart = 0;
  #windowCount = 0;
  #rate = 0;
  #quietUntil = 0;

  private constructor(sql: SqlStorage, row: ShareRow) {
    this.#sql = sql;
    this.shard = row.shard;
    this.#granted = row.granted;
    this.#returned = row.returned;
    this.#nextSeq = row.next_seq;
  }

  /** The share this object holds, or null when it is no shard. */
  static load(sql: SqlStorage): LeaseShare | null {
    const row = sql
      .exec<ShareRow>("SELECT shard, granted, returned, next_seq FROM lease_share")
      .toArray()[0];
    return row ? new LeaseShare(sql, row) : null;
  }

  /** Makes this object shard `shard` (inside the caller's transaction, with the definition). */
  static create(sql: SqlStorage, shard: number): LeaseShare {
    sql.exec("INSERT INTO lease_share (singleton, shard) VALUES (1, ?)", shard);
    return new LeaseShare(sql, { shard, granted: 0, returned: 0, next_seq: 0 });
  }

  get limit(): number {
    return this.#granted - this.#returned;
  }

  get nextSeq(): number {
    return this.#nextSeq;
  }

  totals(issued: number): ShareTotals {
    return { granted: this.#granted, returned: this.#returned, issued };
  }

  /**
   * Records grant `seq` unless already counted (call inside a transaction); memory follows.
   * Lease numbers are used in order, so any number below `nextSeq` is counted already.
   */
  adopt(grant: Grant): void {
    if (grant.seq < this.#nextSeq) return;
    this.#sql.exec(
      "UPDATE lease_share SET granted = granted + ?, next_seq = ?",
      grant.granted,
      grant.seq + 1,
    );
    this.#granted += grant.granted;
    this.#nextSeq = grant.seq + 1;
  }

  /** An ask that found nothing to grant: no background ask for a while. */
  quiet(now: number): void {
    this.#quietUntil = now + QUIET_MS;
  }

  isQuiet(now: number): boolean {
    return now < this.#quietUntil;
  }

  /**
   * Gives back every unissued coupon (a recall): first adopts the grants the coordinator
   * recorded that this shard may have lost, then returns limit − issued. One transaction.
   */
  giveBack(grants: readonly Grant[], issued: number, transaction: (fn: () => void) => void): void {
    transaction(() => {
      for (const grant of [...grants].sort((a, b) => a.seq - b.seq)) this.adopt(grant);
      const back = Math.max(0, this.limit - issued);
      if (back > 0) {
        this.#sql.exec("UPDATE lease_share SET returned = returned + ?", back);
        this.#returned += back;
      }
    });
    // What the coordinator said before no longer holds once the stock moved.
    if (this.#verdict?.answer.refusal.slug !== "sold-out") this.#verdict = null;
  }

  /** The coordinator's refusal while it still holds (sold-out: for good; waves: until `until`). */
  verdict(now: number): Extract<LeaseAnswer, { outcome: "refused" }> | null {
    const v = this.#verdict;
    if (!v) return null;
    const until = v.answer.until;
    if (until === null) return v.answer;
    if (now >= until) {
      this.#verdict = null;
      return null;
    }
    // Retry-After counts down to the wave (or the start) the answer waits for.
    return { ...v.answer, refusal: { ...v.answer.refusal, retryAfter: secondsUntil(until, now) } };
  }

  keepVerdict(answer: Extract<LeaseAnswer, { outcome: "refused" }>): void {
    // Pause and its like change at an operator's word: only final or timed answers are kept.
    const slug = answer.refusal.slug;
    if (slug === "sold-out" || slug === "ended" || (answer.until !== null && slug !== "paused")) {
      this.#verdict = { answer };
    }
  }

  forgetVerdict(): void {
    this.#verdict = null;
  }

  /** Counts issued coupons into the claim rate the lease size follows. */
  issuedAt(count: number, now: number): void {
    if (now - this.#windowStart >= RATE_WINDOW_MS) {
      const elapsed = Math.max(RATE_WINDOW_MS, now - this.#windowStart);
      this.#rate = this.#windowStart === 0 ? 0 : (this.#windowCount * 1000) / elapsed;
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    this.#windowCount += count;
  }

  /** Claims per second, from the last full window and the one under way. */
  rate(now: number): number {
    const partial = Math.max(1, now - this.#windowStart);
    const current = (this.#windowCount * 1000) / Math.max(partial, 100);
    return Math.max(this.#rate, current);
  }
}

type ShareRow = {
  shard: number;
  granted: number;
  returned: number;
  next_seq: number;
};
