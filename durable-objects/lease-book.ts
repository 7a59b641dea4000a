import type { Grant, ShareTotals } from "../domain/shards.ts";

type ShardView = {
  granted: number;
  /** As the shard last reported: only ever grows, and never above the shard's own. */
  returned: number;
  issued: number;
};

/**
 * The coordinator's lease table: every grant by (shard, lease number), and each shard's totals as
 * it last reported them. Leased = Σ granted − Σ returned (as seen). A shard's own `returned` is
 * never below what is seen here, so the leased total seen is never below the truth: stock a
 * shard gave back is only leased again once the coordinator has heard of it (never oversold; at
 * worst idle until the next report), and a grant the shard lost stays counted until the shard
 * adopts it (a re-ask or a recall), never granted twice.
 */
export class LeaseBook {
  readonly #sql: SqlStorage;
  readonly #views = new Map<number, ShardView>();
  #leased = 0;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    for (const row of sql.exec<{ shard: number } & ShardView>(
      "SELECT shard, granted, returned, issued FROM lease_shards",
    )) {
      this.#views.set(row.shard, {
        granted: row.granted,
        returned: row.returned,
        issued: row.issued,
      });
      this.#leased += row.granted - row.returned;
    }
  }

  /** Stock leased to shards now (as far as the coordinator knows: never below the truth). */
  get leased(): number {
    return this.#leased;
  }

  /** Coupons issued over the shards, as last reported (a lower bound). */
  get issued(): number {
    let sum = 0;
    for (const view of this.#views.values()) sum += view.issued;
    return sum;
  }

  /** The grant recorded for this lease number, if any. */
  grantOf(shard: number, seq: number): number | null {
    const row = this.#sql
      .exec<{ granted: number }>(
        "SELECT granted FROM lease_grants WHERE shard = ? AND seq = ?",
        shard,
        seq,
      )
      .toArray()[0];
    return row ? row.granted : null;
  }

  /** Grants from `fromSeq` on (what a shard may not have recorded yet). */
  grantsFrom(shard: number, fromSeq: number): Grant[] {
    return this.#sql
      .exec<{ seq: number; granted: number }>(
        "SELECT seq, granted FROM lease_grants WHERE shard = ? AND seq >= ? ORDER BY seq",
        shard,
        fromSeq,
      )
      .toArray();
  }

  /** The lowest lease number the shard may not have recorded: after its last report, all. */
  unconfirmedFrom(shard: number): number {
    const row = this.#sql
      .exec<{ seq: number | null }>(
        "SELECT MAX(seq) AS seq FROM lease_grants WHERE shard = ?",
        shard,
      )
      .one();
    // Cheap and safe: the shard ignores grants it already counted, so send the last few.
    return Math.max(0, (row.seq ?? -1) - 7);
  }

  /** Records a grant (call inside a transaction). */
  record(shard: number, seq: number, granted: number): void {
    this.#sql.exec(
      "INSERT INTO lease_grants (shard, seq, granted) VALUES (?, ?, ?)",
      shard,
      seq,
      granted,
    );
    const view = this.#view(shard);
    view.granted += granted;
    this.#leased += granted;
    this.#write(shard, view);
  }

  /** A shard's totals as it reports them; only what grows is taken (reports may cross). */
  observe(shard: number, totals: Pick<ShareTotals, "returned" | "issued">): void {
    const view = this.#view(shard);
    const returned = Math.max(view.returned, totals.returned);
    const issued = Math.max(view.issued, totals.issued);
    if (returned === view.returned && issued === view.issued) return;
    this.#leased -= returned - view.returned;
    view.returned = returned;
    view.issued = issued;
    this.#write(shard, view);
  }

  #view(shard: number): ShardView {
    let view = this.#views.get(shard);
    if (!view) {
      view = { granted: 0, returned: 0, issued: 0 };
      this.#views.set(shard, view);
    }
    return view;
  }

  #write(shard: number, view: ShardView): void {
    this.#sql.exec(
      `INSERT INTO lease_shards (shard, granted, returned, issued) VALUES (?, ?, ?, ?)
       ON CONFLICT (shard) DO UPDATE SET granted = excluded.granted,
         returned = excluded.returned, issued = excluded.issued`,
      shard,
      view.granted,
      view.returned,
      view.issued,
    );
  }
}
