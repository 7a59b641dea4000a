import { Client, DatabaseError } from "@planetscale/database";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/planetscale-serverless";
import type { EventDefinition } from "../../durable-objects/ledger.ts";
import { couponEvents, userCoupons } from "../db/schema/index.ts";
import { fetchWithTimeout } from "./timeout.ts";
import type { DeliveryReport, OutboxItem, Sink } from "./types.ts";

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

  async function upsert(items: OutboxItem[]): Promise<void> {
    const now = new Date();
    await db
      .insert(userCoupons)
      .values(
        items.map(({ record: { coupon }, version }) => ({
          id: coupon.id,
          eventId: coupon.eventId,
          userId: coupon.userId,
          status: coupon.status === "redeemed" ? ("redeemed" as const) : ("issued" as const),
          issuedAt: new Date(coupon.issuedAt),
          expiresAt: date(coupon.expiresAt),
          redeemedAt: date(coupon.redeemedAt),
          orderId: coupon.orderId,
          version,
          updatedAt: now,
        })),
      )
      .onDuplicateKeyUpdate({
        // MySQL assigns left to right: `version` must be the last column written.
        set: {
          status: sql`IF(VALUES(version) > version, VALUES(status), status)`,
          redeemedAt: sql`IF(VALUES(version) > version, VALUES(redeemed_at), redeemed_at)`,
          orderId: sql`IF(VALUES(version) > version, VALUES(order_id), order_id)`,
          updatedAt: sql`IF(VALUES(version) > version, VALUES(updated_at), updated_at)`,
          version: sql`GREATEST(version, VALUES(version))`,
        },
      });
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
      await upsert(items);
      return { delivered: items.map((i) => i.seq), rejected: [] };
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
    name: "mysql",
    async deliver(items, event) {
      await upsertEvent(event);
      return deliver(items);
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
