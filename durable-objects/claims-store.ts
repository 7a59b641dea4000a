import type { CouponRow } from "../domain/views.ts";

const COUPON_COLUMNS =
  "coupon_id, user_id, issued_at, expires_at, status, redeemed_at, order_id, held_order_id, held_until, restored_order_id, version";

/**
 * The event's coupons: one `claims` row per holder, its life after issue in the same row. The
 * table is also the outbox's log of issue records (outbox.ts reads it by rowid), so rows are only
 * ever added or updated, never deleted.
 */
export class ClaimsStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  byUser(userId: string): CouponRow | undefined {
    return this.#sql
      .exec<CouponRow>(`SELECT ${COUPON_COLUMNS} FROM claims WHERE user_id = ?`, userId)
      .toArray()[0];
  }

  /** The rows of those of `userIds` who hold a coupon: one read, whatever the batch size. */
  byUsers(userIds: readonly string[]): Map<string, CouponRow> {
    const rows = this.#sql.exec<CouponRow>(
      `SELECT ${COUPON_COLUMNS} FROM claims WHERE user_id IN (SELECT value FROM json_each(?))`,
      JSON.stringify(userIds),
    );
    const held = new Map<string, CouponRow>();
    for (const row of rows) held.set(row.user_id, row);
    return held;
  }

  byCoupon(couponId: string): CouponRow | undefined {
    return this.#sql
      .exec<CouponRow>(`SELECT ${COUPON_COLUMNS} FROM claims WHERE coupon_id = ?`, couponId)
      .toArray()[0];
  }

  /**
   * New coupons issued at `now`, in one statement, in arrival order (a JSON array keeps it one
   * bound parameter whatever the batch size). Each row is also its `coupon.issued` record.
   */
  insert(rows: readonly CouponRow[], now: number, expiresAt: number | null): void {
    this.#sql.exec(
      `INSERT INTO claims (user_id, coupon_id, issued_at, expires_at)
       SELECT value ->> 0, value ->> 1, ?2, ?3 FROM json_each(?1) ORDER BY key`,
      JSON.stringify(rows.map((r) => [r.user_id, r.coupon_id])),
      now,
      expiresAt,
    );
  }

  /** Writes a coupon's changed columns (the immutable ones, issue included, never change). */
  update(next: CouponRow): void {
    this.#sql.exec(
      `UPDATE claims SET status = ?, redeemed_at = ?, order_id = ?, held_order_id = ?,
         held_until = ?, restored_order_id = ?, version = ? WHERE coupon_id = ?`,
      next.status,
      next.redeemed_at,
      next.order_id,
      next.held_order_id,
      next.held_until,
      next.restored_order_id,
      next.version,
      next.coupon_id,
    );
  }

  /** Coupons whose hold ended by `now` (the partial index of holds finds them). */
  lapsedHolds(now: number): CouponRow[] {
    return this.#sql
      .exec<CouponRow>(
        `SELECT ${COUPON_COLUMNS} FROM claims WHERE held_until IS NOT NULL AND held_until <= ?`,
        now,
      )
      .toArray();
  }

  /** When the next hold ends (the object's clock), or null when no coupon is held. */
  nextHoldEnd(): number | null {
    return this.#sql
      .exec<{ at: number | null }>(
        "SELECT MIN(held_until) AS at FROM claims WHERE held_until IS NOT NULL",
      )
      .one().at;
  }

  /** Every holder's user id, streamed. */
  *userIds(): Generator<string> {
    for (const row of this.#sql.exec<{ user_id: string }>("SELECT user_id FROM claims")) {
      yield row.user_id;
    }
  }
}
