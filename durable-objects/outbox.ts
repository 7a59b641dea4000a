import {
  type CouponRecord,
  type DeliveryReport,
  isSinkName,
  type OutboxItem,
  SINK_NAMES,
  type SinkName,
} from "../domain/sinks.ts";

type Row = { seq: number; version: number; payload: string };

export interface DeadLetter {
  id: number;
  sink: SinkName;
  couponId: string;
  error: string;
  attempts: number;
  failedAt: number;
}

/** One multi-row insert of a record's delivery rows, one per registered sink (?1 is the seq). */
const INSERT_DELIVERIES = `INSERT INTO outbox_delivery (sink, seq) VALUES ${SINK_NAMES.map(
  (_, i) => `(?${i + 2}, ?1)`,
).join(", ")}`;

/**
 * The object's outbox: one row per coupon change (`outbox`), written in the change's
 * transaction, and one delivery row per sink that still owes it (`outbox_delivery`: attempts and
 * retry time), so that one failing sink neither holds back nor duplicates another's deliveries.
 * A delivery row is deleted once its sink has the record or has parked it in `dead_letters`; an
 * outbox row goes once no enabled sink owes it. Sinks are data here: their names are values.
 */
export class Outbox {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Two statements whatever the number of sinks: the record, then its delivery rows. */
  add(couponId: string, version: number, record: CouponRecord, createdAt: number): void {
    const { seq } = this.#sql
      .exec<{ seq: number }>(
        "INSERT INTO outbox (coupon_id, version, payload, created_at) VALUES (?, ?, ?, ?) RETURNING seq",
        couponId,
        version,
        JSON.stringify(record),
        createdAt,
      )
      .one();
    this.#sql.exec(INSERT_DELIVERIES, seq, ...SINK_NAMES);
  }

  /** Records of one moment in one statement, and all their delivery rows in another. */
  addMany(
    records: readonly { couponId: string; version: number; record: CouponRecord }[],
    createdAt: number,
  ): void {
    if (records.length === 0) return;
    const seqs = this.#sql
      .exec<{ seq: number }>(
        `INSERT INTO outbox (coupon_id, version, payload, created_at)
         SELECT value ->> 0, value ->> 1, value ->> 2, ?2 FROM json_each(?1) ORDER BY key
         RETURNING seq`,
        JSON.stringify(records.map((r) => [r.couponId, r.version, JSON.stringify(r.record)])),
        createdAt,
      )
      .toArray()
      .map((r) => r.seq);
    this.#sql.exec(
      `INSERT INTO outbox_delivery (sink, seq)
       SELECT s.value, o.value FROM json_each(?1) o, json_each(?2) s`,
      JSON.stringify(seqs),
      JSON.stringify(SINK_NAMES),
    );
  }

  /** The next batch due for `sink`, oldest first, read whole before any await. */
  due(sink: SinkName, now: number, limit: number): OutboxItem[] {
    return this.#sql
      .exec<Row>(
        `SELECT o.seq, o.version, o.payload FROM outbox_delivery d JOIN outbox o ON o.seq = d.seq
         WHERE d.sink = ? AND d.retry_at <= ? ORDER BY d.seq LIMIT ?`,
        sink,
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

  markDelivered(sink: SinkName, seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.#sql.exec(
      "DELETE FROM outbox_delivery WHERE sink = ? AND seq IN (SELECT value FROM json_each(?))",
      sink,
      JSON.stringify(seqs),
    );
  }

  /**
   * Counts one more refusal of each row; a row refused `maxAttempts` times (or refused for good)
   * is parked in `dead_letters` for this sink and no longer blocks anything. Returns the seqs
   * parked.
   */
  markRejected(
    sink: SinkName,
    rejected: DeliveryReport["rejected"],
    opts: { now: number; maxAttempts: number; retryAt: (attempts: number) => number },
  ): number[] {
    const parked: number[] = [];
    for (const { seq, error, permanent } of rejected) {
      const row = this.#sql
        .exec<{ attempts: number }>(
          `UPDATE outbox_delivery SET attempts = attempts + 1 WHERE sink = ? AND seq = ?
           RETURNING attempts`,
          sink,
          seq,
        )
        .toArray()[0];
      if (!row) continue;
      if (permanent || row.attempts >= opts.maxAttempts) {
        this.#sql.exec(
          `INSERT INTO dead_letters (sink, seq, coupon_id, version, payload, error, attempts, failed_at)
           SELECT ?1, seq, coupon_id, version, payload, ?2, ?3, ?4 FROM outbox WHERE seq = ?5`,
          sink,
          error.slice(0, 1000),
          row.attempts,
          opts.now,
          seq,
        );
        this.#sql.exec("DELETE FROM outbox_delivery WHERE sink = ? AND seq = ?", sink, seq);
        parked.push(seq);
      } else {
        this.#sql.exec(
          "UPDATE outbox_delivery SET retry_at = ? WHERE sink = ? AND seq = ?",
          opts.retryAt(row.attempts),
          sink,
          seq,
        );
      }
    }
    return parked;
  }

  /**
   * Drops the rows no enabled sink owes any more: every row older than the oldest one still owed,
   * and those of `touched` (the seqs this drain step delivered or parked) that nobody owes. A
   * sink that is not enabled is owed nothing: its delivery rows go first. Index lookups only,
   * however long the backlog.
   */
  prune(enabled: readonly SinkName[], touched: readonly number[]): void {
    for (const sink of SINK_NAMES) {
      if (!enabled.includes(sink))
        this.#sql.exec("DELETE FROM outbox_delivery WHERE sink = ?", sink);
    }
    let oldest: number | null = null;
    for (const sink of enabled) {
      const first = this.#sql
        .exec<{ seq: number | null }>(
          "SELECT MIN(seq) AS seq FROM outbox_delivery WHERE sink = ?",
          sink,
        )
        .one().seq;
      if (first !== null && (oldest === null || first < oldest)) oldest = first;
    }
    if (oldest === null) {
      this.#sql.exec("DELETE FROM outbox");
      return;
    }
    this.#sql.exec("DELETE FROM outbox WHERE seq < ?", oldest);
    const rest = [...new Set(touched)].filter((seq) => seq > oldest);
    if (rest.length === 0) return;
    this.#sql.exec(
      `DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))
       AND NOT EXISTS (SELECT 1 FROM outbox_delivery d
                       WHERE d.sink IN (${enabled.map(() => "?").join(", ")}) AND d.seq = outbox.seq)`,
      JSON.stringify(rest),
      ...enabled,
    );
  }

  /** When `sink` next has a row due (its earliest row retry time), or null when it owes none. */
  nextDue(sink: SinkName): number | null {
    // Rows never refused have retry_at 0 and are found at once; the others through the partial
    // index of refused rows.
    return this.#sql
      .exec<{ at: number | null }>(
        `SELECT CASE
           WHEN EXISTS (SELECT 1 FROM outbox_delivery WHERE sink = ?1 AND retry_at = 0) THEN 0
           ELSE (SELECT MIN(retry_at) FROM outbox_delivery WHERE sink = ?1 AND retry_at > 0)
         END AS at`,
        sink,
      )
      .one().at;
  }

  /** Rows `sink` still owes, and when the oldest of them was written. */
  backlog(sink: SinkName): { pending: number; oldestCreatedAt: number | null } {
    const row = this.#sql
      .exec<{ pending: number; oldest: number | null }>(
        `SELECT (SELECT COUNT(*) FROM outbox_delivery WHERE sink = ?1) AS pending,
           (SELECT created_at FROM outbox
            WHERE seq = (SELECT MIN(seq) FROM outbox_delivery WHERE sink = ?1)) AS oldest`,
        sink,
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

  /** The oldest dead letters of registered sinks. */
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
      .flatMap((r) =>
        isSinkName(r.sink)
          ? [
              {
                id: r.id,
                sink: r.sink,
                couponId: r.coupon_id,
                error: r.error,
                attempts: r.attempts,
                failedAt: r.failed_at,
              },
            ]
          : [],
      );
  }

  /**
   * Puts dead letters back in the outbox for the sink that refused them only (the others already
   * have them), with fresh attempts. Returns how many were re-queued.
   */
  requeueDeadLetters(now: number): number {
    const letters = this.#sql
      .exec<{ id: number; sink: string; coupon_id: string; version: number; payload: string }>(
        "SELECT id, sink, coupon_id, version, payload FROM dead_letters ORDER BY id",
      )
      .toArray();
    let requeued = 0;
    for (const letter of letters) {
      // A letter of a sink no longer registered stays where it is.
      if (!isSinkName(letter.sink)) continue;
      const { seq } = this.#sql
        .exec<{ seq: number }>(
          "INSERT INTO outbox (coupon_id, version, payload, created_at) VALUES (?, ?, ?, ?) RETURNING seq",
          letter.coupon_id,
          letter.version,
          letter.payload,
          now,
        )
        .one();
      this.#sql.exec("INSERT INTO outbox_delivery (sink, seq) VALUES (?, ?)", letter.sink, seq);
      this.#sql.exec("DELETE FROM dead_letters WHERE id = ?", letter.id);
      requeued++;
    }
    return requeued;
  }
}
