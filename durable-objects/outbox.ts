import type { CouponRecord, DeliveryReport, OutboxItem, SinkName } from "../src/sinks/types.ts";

export const SINK_NAMES = ["mysql", "kafka"] as const satisfies readonly SinkName[];

/** Per sink and row: 0 pending, 1 delivered, 2 dead-lettered. */
const PENDING = 0;
const DELIVERED = 1;
const DEAD = 2;

type Row = { seq: number; version: number; payload: string };

export interface DeadLetter {
  id: number;
  sink: SinkName;
  couponId: string;
  error: string;
  attempts: number;
  failedAt: number;
}

/**
 * The object's outbox: one row per coupon change, written in the claim's transaction, tracked
 * per sink so that one failing sink neither holds back nor duplicates the other's deliveries.
 * Column names interpolated below come only from SINK_NAMES.
 */
export class Outbox {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  add(couponId: string, version: number, record: CouponRecord, createdAt: number): void {
    this.#sql.exec(
      "INSERT INTO outbox (coupon_id, version, payload, created_at) VALUES (?, ?, ?, ?)",
      couponId,
      version,
      JSON.stringify(record),
      createdAt,
    );
  }

  /** The next batch due for `sink`, read whole before any await. */
  due(sink: SinkName, now: number, limit: number): OutboxItem[] {
    return this.#sql
      .exec<Row>(
        `SELECT seq, version, payload FROM outbox
         WHERE ${sink}_state = ${PENDING} AND ${sink}_retry_at <= ? ORDER BY seq LIMIT ?`,
        now,
        limit,
      )
      .toArray()
      .map((r) => ({
        seq: r.seq,
        version: r.version,
        record: JSON.parse(r.payload) as CouponRecord,
      }));
  }

  markDelivered(sink: SinkName, seqs: number[]): void {
    if (seqs.length === 0) return;
    this.#sql.exec(
      `UPDATE outbox SET ${sink}_state = ${DELIVERED}
       WHERE ${sink}_state = ${PENDING} AND seq IN (SELECT value FROM json_each(?))`,
      JSON.stringify(seqs),
    );
  }

  /**
   * Counts one more refusal of each row; a row refused `maxAttempts` times is parked in
   * `dead_letters` for this sink and no longer blocks anything. Returns how many were parked.
   */
  markRejected(
    sink: SinkName,
    rejected: DeliveryReport["rejected"],
    opts: { now: number; maxAttempts: number; retryAt: (attempts: number) => number },
  ): number {
    let parked = 0;
    for (const { seq, error, permanent } of rejected) {
      const row = this.#sql
        .exec<{ attempts: number; coupon_id: string; version: number; payload: string }>(
          `UPDATE outbox SET ${sink}_attempts = ${sink}_attempts + 1
           WHERE seq = ? AND ${sink}_state = ${PENDING}
           RETURNING ${sink}_attempts AS attempts, coupon_id, version, payload`,
          seq,
        )
        .toArray()[0];
      if (!row) continue;
      if (permanent || row.attempts >= opts.maxAttempts) {
        this.#sql.exec(
          `INSERT INTO dead_letters (sink, seq, coupon_id, version, payload, error, attempts, failed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          sink,
          seq,
          row.coupon_id,
          row.version,
          row.payload,
          error.slice(0, 1000),
          row.attempts,
          opts.now,
        );
        this.#sql.exec(`UPDATE outbox SET ${sink}_state = ${DEAD} WHERE seq = ?`, seq);
        parked++;
      } else {
        this.#sql.exec(
          `UPDATE outbox SET ${sink}_retry_at = ? WHERE seq = ?`,
          opts.retryAt(row.attempts),
          seq,
        );
      }
    }
    return parked;
  }

  /** Drops rows that every enabled sink has (delivered or dead-lettered). */
  prune(enabled: Record<SinkName, boolean>): void {
    const open = SINK_NAMES.filter((s) => enabled[s]).map((s) => `${s}_state = ${PENDING}`);
    this.#sql.exec(`DELETE FROM outbox ${open.length ? `WHERE NOT (${open.join(" OR ")})` : ""}`);
  }

  /** When `sink` next has a row due (its earliest row retry time), or null when nothing is pending. */
  nextDue(sink: SinkName): number | null {
    return this.#sql
      .exec<{ at: number | null }>(
        `SELECT MIN(${sink}_retry_at) AS at FROM outbox WHERE ${sink}_state = ${PENDING}`,
      )
      .one().at;
  }

  backlog(sink: SinkName): { pending: number; oldestCreatedAt: number | null } {
    const row = this.#sql
      .exec<{ pending: number; oldest: number | null }>(
        `SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM outbox WHERE ${sink}_state = ${PENDING}`,
      )
      .one();
    return { pending: row.pending, oldestCreatedAt: row.oldest };
  }

  /** Rows not yet delivered everywhere they must go. */
  pending(): { pending: number; oldestCreatedAt: number | null } {
    const row = this.#sql
      .exec<{ pending: number; oldest: number | null }>(
        "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM outbox",
      )
      .one();
    return { pending: row.pending, oldestCreatedAt: row.oldest };
  }

  deadLetterCount(sink: SinkName): number {
    return this.#sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM dead_letters WHERE sink = ?", sink)
      .one().n;
  }

  deadLetters(limit: number): DeadLetter[] {
    return this.#sql
      .exec<{
        id: number;
        sink: string;
        coupon_id: string;
        error: string;
        attempts: number;
        failed_at: number;
      }>(
        "SELECT id, sink, coupon_id, error, attempts, failed_at FROM dead_letters ORDER BY id LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({
        id: r.id,
        sink: r.sink as SinkName,
        couponId: r.coupon_id,
        error: r.error,
        attempts: r.attempts,
        failedAt: r.failed_at,
      }));
  }

  /**
   * Puts dead letters back in the outbox for the sink that refused them (the other sink already
   * has them), with fresh attempts. Returns how many were re-queued.
   */
  requeueDeadLetters(now: number): number {
    const letters = this.#sql
      .exec<{ id: number; sink: string; coupon_id: string; version: number; payload: string }>(
        "SELECT id, sink, coupon_id, version, payload FROM dead_letters ORDER BY id",
      )
      .toArray();
    for (const letter of letters) {
      const sink = SINK_NAMES.find((s) => s === letter.sink);
      if (!sink) continue;
      const others = SINK_NAMES.filter((s) => s !== sink).map((s) => `${s}_state`);
      this.#sql.exec(
        `INSERT INTO outbox (coupon_id, version, payload, created_at${others.map((c) => `, ${c}`).join("")})
         VALUES (?, ?, ?, ?${others.map(() => `, ${DELIVERED}`).join("")})`,
        letter.coupon_id,
        letter.version,
        letter.payload,
        now,
      );
      this.#sql.exec("DELETE FROM dead_letters WHERE id = ?", letter.id);
    }
    return letters.length;
  }
}
