import { issuedRow } from "../domain/claim-batch.ts";
import {
  type CouponRecord,
  type DeliveryReport,
  isSinkName,
  type OutboxItem,
  SINK_NAMES,
  type SinkName,
} from "../domain/sinks.ts";
import { couponView, iso } from "../domain/views.ts";

type Row = { seq: number; version: number; payload: string; created_at: number };
type IssueRow = {
  rowid: number;
  coupon_id: string;
  user_id: string;
  issued_at: number;
  expires_at: number | null;
};
/** A record due for a sink, with when it was written: the two logs merge by it. */
type Due = { item: OutboxItem; at: number };

/**
 * What one drain step has read, shared by its sinks: each record is read and parsed once per
 * step however many sinks take it. A window of the claims log goes once every sink has read it.
 */
export class StepReads {
  readonly #readers: number;
  readonly #issues = new Map<number, { due: Due[]; reads: number }>();
  readonly #records = new Map<number, CouponRecord>();

  constructor(readers: number) {
    this.#readers = readers;
  }

  issuesAfter(cursor: number, read: () => Due[]): Due[] {
    let window = this.#issues.get(cursor);
    if (!window) {
      window = { due: read(), reads: 0 };
      this.#issues.set(cursor, window);
    }
    window.reads += 1;
    if (window.reads >= this.#readers) this.#issues.delete(cursor);
    return window.due;
  }

  record(seq: number, payload: string): CouponRecord {
    let record = this.#records.get(seq);
    if (!record) {
      record = JSON.parse(payload) as CouponRecord;
      this.#records.set(seq, record);
    }
    return record;
  }
}

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
 * The object's outbox, two logs:
 * - issues: the claims table itself. A coupon's `coupon.issued` record is rebuilt from its claim
 *   row's immutable columns (the coupon as of issue, version 1), so an issue costs no row here.
 *   Each sink keeps a cursor over claims (`sink_cursor`: the last claims rowid it is done with).
 * - everything else (held, hold-released, redeemed, restored): one row per change (`outbox`),
 *   written in the change's transaction, and one delivery row per sink that still owes it
 *   (`outbox_delivery`: attempts and retry time).
 * An issue record a sink refuses moves into the second log for that sink alone (an `outbox` row
 * and its delivery row) and the cursor moves on, so retries, backoff and dead letters work the
 * same for both. A delivery row is deleted once its sink has the record or has parked it in
 * `dead_letters`; an outbox row goes once no enabled sink owes it. One failing sink neither holds
 * back nor duplicates another's deliveries. Sinks are data here: their names are values.
 *
 * Items of the claims log carry `seq` = -rowid (outbox seqs are positive), so a sink's report
 * names either kind.
 */
export class Outbox {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    // A sink without a cursor (a new object, one upgraded from per-row issue records, or a sink
    // registered later) starts after the claims that exist: older issues are in `outbox` rows
    // already, or were delivered.
    // Read first: a start that finds every cursor writes nothing.
    const sinks = JSON.stringify(SINK_NAMES);
    const known = this.#sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM sink_cursor WHERE sink IN (SELECT value FROM json_each(?))",
        sinks,
      )
      .one().n;
    if (known === SINK_NAMES.length) return;
    this.#sql.exec(
      `INSERT OR IGNORE INTO sink_cursor (sink, claims_rowid)
       SELECT value, (SELECT COALESCE(MAX(rowid), 0) FROM claims) FROM json_each(?)`,
      sinks,
    );
  }

  /** A fresh cache for one drain step taken by `readers` sinks. */
  reads(readers: number): StepReads {
    return new StepReads(readers);
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

  /**
   * The next batch due for `sink`, read whole before any await: issues and other records merged
   * oldest first (the other record first on a tie), except that a change of a coupon always
   * follows the coupon's own issue.
   */
  due(sink: SinkName, now: number, limit: number, eventId: string, reads: StepReads): OutboxItem[] {
    const cursor = this.#cursor(sink);
    const issues = reads.issuesAfter(cursor, () => this.#issuesAfter(eventId, cursor, limit));
    const others = this.#sql
      .exec<Row & { issue: number | null }>(
        `SELECT o.seq, o.version, o.payload, o.created_at, k.rowid AS issue
         FROM outbox_delivery d JOIN outbox o ON o.seq = d.seq
         LEFT JOIN claims k ON k.coupon_id = o.coupon_id
         WHERE d.sink = ? AND d.retry_at <= ? ORDER BY d.seq LIMIT ?`,
        sink,
        now,
        limit,
      )
      .toArray();
    const batch: OutboxItem[] = [];
    let i = 0;
    let j = 0;
    let issuedUpTo = cursor;
    while (batch.length < limit) {
      const issue = issues[i];
      const other = others[j];
      if (!issue && !other) break;
      // The coupon's issue is still to go: it goes first (or, not in this window, waits).
      const blocked = other !== undefined && (other.issue ?? 0) > issuedUpTo;
      if (issue && (!other || blocked || issue.at < other.created_at)) {
        batch.push(issue.item);
        issuedUpTo = -issue.item.seq;
        i++;
      } else if (other && !blocked) {
        const record = reads.record(other.seq, other.payload);
        batch.push({ seq: other.seq, version: other.version, record });
        j++;
      } else break;
    }
    return batch;
  }

  /**
   * Stores what `sink` did with `batch`: delivered rows go, refused ones count an attempt (an
   * issue record moves into a delivery row of its own first), and the sink's cursor moves past
   * the issues of the batch. Returns the outbox seqs the sink no longer owes.
   */
  settle(
    sink: SinkName,
    batch: readonly OutboxItem[],
    report: DeliveryReport,
    opts: { now: number; maxAttempts: number; retryAt: (attempts: number) => number },
  ): number[] {
    const delivered = report.delivered.filter((seq) => seq > 0);
    this.markDelivered(sink, delivered);
    const issues = new Map<number, OutboxItem>();
    for (const item of batch) if (item.seq < 0) issues.set(item.seq, item);
    const rejected: DeliveryReport["rejected"] = [];
    for (const refusal of report.rejected) {
      if (refusal.seq > 0) {
        rejected.push(refusal);
        continue;
      }
      const issue = issues.get(refusal.seq);
      if (!issue) continue;
      issues.delete(refusal.seq);
      rejected.push({ ...refusal, seq: this.#owe(sink, issue) });
    }
    // An issue the sink neither took nor refused stays owed, as any other record would.
    for (const seq of report.delivered) issues.delete(seq);
    for (const issue of issues.values()) this.#owe(sink, issue);
    const parked = this.markRejected(sink, rejected, opts);
    let last = 0;
    for (const item of batch) last = Math.max(last, -item.seq);
    if (last > 0) {
      this.#sql.exec(
        "UPDATE sink_cursor SET claims_rowid = ?1 WHERE sink = ?2 AND claims_rowid < ?1",
        last,
        sink,
      );
    }
    return [...delivered, ...parked];
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
      if (enabled.includes(sink)) continue;
      this.#sql.exec("DELETE FROM outbox_delivery WHERE sink = ?", sink);
      this.#sql.exec(
        `UPDATE sink_cursor SET claims_rowid = (SELECT MAX(rowid) FROM claims)
         WHERE sink = ? AND claims_rowid < (SELECT COALESCE(MAX(rowid), 0) FROM claims)`,
        sink,
      );
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

  /** When `sink` next has a record due (0: now), or null when it owes none. */
  nextDue(sink: SinkName): number | null {
    // Issues after the cursor and rows never refused (retry_at 0) are due at once; the others
    // through the partial index of refused rows.
    return this.#sql
      .exec<{ at: number | null }>(
        `SELECT CASE
           WHEN EXISTS (SELECT 1 FROM claims
                        WHERE rowid > (SELECT claims_rowid FROM sink_cursor WHERE sink = ?1)) THEN 0
           WHEN EXISTS (SELECT 1 FROM outbox_delivery WHERE sink = ?1 AND retry_at = 0) THEN 0
           ELSE (SELECT MIN(retry_at) FROM outbox_delivery WHERE sink = ?1 AND retry_at > 0)
         END AS at`,
        sink,
      )
      .one().at;
  }

  /** Records `sink` still owes, and when the oldest of them was written. */
  backlog(sink: SinkName): { pending: number; oldestCreatedAt: number | null } {
    const row = this.#sql
      .exec<{
        owed: number;
        owed_oldest: number | null;
        issues: number;
        issues_oldest: number | null;
      }>(
        `WITH c AS (SELECT claims_rowid AS after FROM sink_cursor WHERE sink = ?1)
         SELECT (SELECT COUNT(*) FROM outbox_delivery WHERE sink = ?1) AS owed,
           (SELECT MIN(o.created_at) FROM outbox_delivery d JOIN outbox o ON o.seq = d.seq
            WHERE d.sink = ?1) AS owed_oldest,
           (SELECT COUNT(*) FROM claims WHERE rowid > (SELECT after FROM c)) AS issues,
           (SELECT issued_at FROM claims WHERE rowid > (SELECT after FROM c)
            ORDER BY rowid LIMIT 1) AS issues_oldest`,
        sink,
      )
      .one();
    return {
      pending: row.owed + row.issues,
      oldestCreatedAt: minOrNull(row.owed_oldest, row.issues_oldest),
    };
  }

  /**
   * Records not yet delivered everywhere they must go: outbox rows, and issues after the
   * furthest-behind cursor (an issue one sink refused and another has not read yet counts once).
   */
  pending(): { pending: number; oldestCreatedAt: number | null } {
    const row = this.#sql
      .exec<{
        rows: number;
        rows_oldest: number | null;
        issues: number;
        issues_oldest: number | null;
        both: number;
      }>(
        `WITH c AS (SELECT MIN(claims_rowid) AS after FROM sink_cursor
                    WHERE sink IN (SELECT value FROM json_each(?1)))
         SELECT (SELECT COUNT(*) FROM outbox) AS rows,
           (SELECT MIN(created_at) FROM outbox) AS rows_oldest,
           (SELECT COUNT(*) FROM claims WHERE rowid > (SELECT after FROM c)) AS issues,
           (SELECT issued_at FROM claims WHERE rowid > (SELECT after FROM c)
            ORDER BY rowid LIMIT 1) AS issues_oldest,
           (SELECT COUNT(*) FROM outbox o JOIN claims k ON k.coupon_id = o.coupon_id
            WHERE o.version = 1 AND k.rowid > (SELECT after FROM c)) AS both`,
        JSON.stringify(SINK_NAMES),
      )
      .one();
    return {
      pending: row.rows + row.issues - row.both,
      oldestCreatedAt: minOrNull(row.rows_oldest, row.issues_oldest),
    };
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

  #cursor(sink: SinkName): number {
    return (
      this.#sql
        .exec<{ after: number }>(
          "SELECT claims_rowid AS after FROM sink_cursor WHERE sink = ?",
          sink,
        )
        .toArray()[0]?.after ?? 0
    );
  }

  /** The issue records after `cursor`, rebuilt from the claims' immutable columns. */
  #issuesAfter(eventId: string, cursor: number, limit: number): Due[] {
    return this.#sql
      .exec<IssueRow>(
        `SELECT rowid, coupon_id, user_id, issued_at, expires_at FROM claims
         WHERE rowid > ? ORDER BY rowid LIMIT ?`,
        cursor,
        limit,
      )
      .toArray()
      .map((r) => {
        const issued = issuedRow(
          { couponExpiresAt: r.expires_at },
          r.user_id,
          r.coupon_id,
          r.issued_at,
        );
        // The coupon as it was at its issue, exactly as the claim's own record would say.
        const record: CouponRecord = {
          type: "coupon.issued",
          schemaVersion: 1,
          coupon: couponView(eventId, issued, r.issued_at),
          at: iso(r.issued_at),
        };
        return { item: { seq: -r.rowid, version: 1, record }, at: r.issued_at };
      });
  }

  /** Moves an issue record into a row owed to `sink` alone; returns its seq. */
  #owe(sink: SinkName, issue: OutboxItem): number {
    const { seq } = this.#sql
      .exec<{ seq: number }>(
        `INSERT INTO outbox (coupon_id, version, payload, created_at) VALUES (?, ?, ?, ?)
         RETURNING seq`,
        issue.record.coupon.id,
        issue.version,
        JSON.stringify(issue.record),
        Date.parse(issue.record.at),
      )
      .one();
    this.#sql.exec("INSERT INTO outbox_delivery (sink, seq) VALUES (?, ?)", sink, seq);
    return seq;
  }
}

function minOrNull(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}
