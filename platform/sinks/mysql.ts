import { Client, DatabaseError } from "@planetscale/database";
import { inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/planetscale-serverless";
import type { EventDefinition } from "../../domain/ledger.ts";
import type { DeliveryReport, OutboxItem, Sink } from "../../domain/sinks.ts";
import { couponEvents, userCoupons } from "../db/schema/index.ts";
import { fetchWithTimeout } from "../timeout.ts";

const date = (iso: string | null): Date | null => (iso === null ? null : new Date(iso));

/**
 * MySQL through PlanetScale's HTTP API (drizzle + @planetscale/database): one multi-row
 * `INSERT .. ON DUPLICATE KEY UPDATE` per batch. Idempotent: a redelivered row changes nothing,
 * and a row only moves forward (`version`), so replays and reordering cannot regress a coupon.
 */
export function mysqlSink(opts: { url: string; timeoutMs: number }): Sink {
  const db = drizzle({
    client: new Client({ url: opts.url, fetch: fetchWithTimeout(opts.timeoutMs) }),
  });
  const eventsWritten = new Set<string>();

  /**
   * Writes `items` and returns the seqs that are now in MySQL as themselves. The update half of
   * the upsert only touches a row with the same coupon id: a record that collides with a
   * *different* coupon on `(event_id, user_id)` changes nothing and comes back as a conflict.
   */
  async function upsert(items: OutboxItem[]): Promise<DeliveryReport> {
    const now = new Date();
    const same = sql`id = VALUES(id) AND VALUES(version) > version`;
    await db
      .insert(userCoupons)
      .values(
        items.map(({ record: { coupon }, version }) => ({
          id: coupon.id,
          eventId: coupon.eventId,
          userId: coupon.userId,
          status: coupon.status,
          issuedAt: new Date(coupon.issuedAt),
          expiresAt: date(coupon.expiresAt),
          redeemedAt: date(coupon.redeemedAt),
          orderId: coupon.orderId,
          heldOrderId: coupon.hold?.orderId ?? null,
          heldUntil: date(coupon.hold?.expiresAt ?? null),
          version,
          updatedAt: now,
        })),
      )
      .onDuplicateKeyUpdate({
        // MySQL assigns left to right: `version` must be the last column written.
        set: {
          status: sql`IF(${same}, VALUES(status), status)`,
          redeemedAt: sql`IF(${same}, VALUES(redeemed_at), redeemed_at)`,
          orderId: sql`IF(${same}, VALUES(order_id), order_id)`,
          heldOrderId: sql`IF(${same}, VALUES(held_order_id), held_order_id)`,
          heldUntil: sql`IF(${same}, VALUES(held_until), held_until)`,
          updatedAt: sql`IF(${same}, VALUES(updated_at), updated_at)`,
          version: sql`IF(id = VALUES(id), GREATEST(version, VALUES(version)), version)`,
        },
      });
    return verify(items);
  }

  /** Reads the batch back by coupon id: only a row with the record's own event and user counts. */
  async function verify(items: OutboxItem[]): Promise<DeliveryReport> {
    const rows = await db
      .select({ id: userCoupons.id, eventId: userCoupons.eventId, userId: userCoupons.userId })
      .from(userCoupons)
      .where(inArray(userCoupons.id, [...new Set(items.map((i) => i.record.coupon.id))]));
    const stored = new Map(rows.map((r) => [r.id, r]));
    const report: DeliveryReport = { delivered: [], rejected: [] };
    for (const { seq, record } of items) {
      const { id, eventId, userId } = record.coupon;
      const row = stored.get(id);
      if (row && row.eventId === eventId && row.userId === userId) report.delivered.push(seq);
      else {
        const key = row ? "coupon id" : "(event_id, user_id)";
        report.rejected.push({ seq, error: conflictText(key), permanent: true });
      }
    }
    return report;
  }

  async function upsertEvent(event: EventDefinition): Promise<void> {
    if (eventsWritten.has(event.id)) return;
    const row = {
      id: event.id,
      name: event.name,
      totalStock: event.totalStock,
      startsAt: new Date(event.startsAt),
      endsAt: event.endsAt === null ? null : new Date(event.endsAt),
      couponExpiresAt: event.couponExpiresAt === null ? null : new Date(event.couponExpiresAt),
      waves: event.waves.map((w) => ({ at: new Date(w.at).toISOString(), quantity: w.quantity })),
    };
    await db
      .insert(couponEvents)
      .values(row)
      .onDuplicateKeyUpdate({ set: { name: row.name, updatedAt: new Date() } });
    eventsWritten.add(event.id);
  }

  /** Delivers `items`; when MySQL refuses the batch itself, halves it to find the bad rows. */
  async function deliver(items: OutboxItem[]): Promise<DeliveryReport> {
    try {
      return await upsert(items);
    } catch (err) {
      const refused = refusal(err);
      if (!refused) throw err;
      const [only] = items;
      if (items.length === 1 && only) {
        return { delivered: [], rejected: [{ seq: only.seq, error: describe(refused) }] };
      }
      const mid = Math.ceil(items.length / 2);
      const [a, b] = [await deliver(items.slice(0, mid)), await deliver(items.slice(mid))];
      return {
        delivered: [...a.delivered, ...b.delivered],
        rejected: [...a.rejected, ...b.rejected],
      };
    }
  }

  return {
    async deliver(items, event) {
      await upsertEvent(event);
      return deliver(items);
    },
    async probe() {
      await db.execute(sql`SELECT 1`);
    },
  };
}

/**
 * The DatabaseError of a statement MySQL refused (bad data), as opposed to MySQL not being
 * reachable. drizzle wraps driver errors, so the cause chain is searched.
 */
function refusal(err: unknown): DatabaseError | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DatabaseError) {
      return e.name === "DatabaseError" && e.status === 400 ? e : null;
    }
  }
  return null;
}

function describe(err: DatabaseError): string {
  const code = (err.body as { code?: string } | undefined)?.code;
  return code ? `${code}: ${err.message}` : err.message;
}

/** Names the key only: the colliding row belongs to another user, whose id must not leak here. */
function conflictText(key: string): string {
  return `conflict: another coupon holds this record's ${key} in user_coupons; not merged`;
}
