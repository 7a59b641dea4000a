import { Client, DatabaseError } from "@planetscale/database";
import { inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/planetscale-serverless";
import type { EventDefinition } from "../../domain/ledger.ts";
import type { DeliveryReport, OutboxItem, Sink } from "../../domain/sinks.ts";
import { optional, secretUrl } from "../config/fields.ts";
import type { Database } from "../db/client.ts";
import { compile } from "../db/compiled.ts";
import { couponEvents, userCoupons } from "../db/schema/index.ts";
import { sinkAdapter } from "./adapter.ts";

/**
 * MySQL, the coupons' queryable copy (and what `GET /v1/me/coupons` reads). Its database is
 * the isolate's one (platform/services.ts builds it from these options).
 */
export const mysql = sinkAdapter({
  settings: {
    /** PlanetScale connection URL with credentials, `https://user:password@host`. */
    DATABASE_URL: optional(
      secretUrl("https://<user>:<password>@<host>").refine((url) => {
        try {
          const { username, password } = new URL(url);
          return username !== "" && password !== "";
        } catch {
          return true; // not a URL at all: already reported
        }
      }, "must carry a username and a password (https://<user>:<password>@<host>)"),
    ),
  },
  read: (s) => (s.DATABASE_URL ? { url: s.DATABASE_URL } : null),
  build: (_options, { database }) => (database ? mysqlSink(database) : null),
});

/** A row of the read-back, as the driver names its columns. */
type StoredRow = { id: unknown; event_id: unknown; user_id: unknown };

/** MySQL's DATETIME text (what drizzle's datetime column sends), or null. */
const dbTime = (iso: string | null): string | null =>
  iso === null ? null : iso.replace("T", " ").replace("Z", "");
/**
 * A placeholder sent as is. drizzle encodes a column's placeholder with the column's encoder,
 * which fails on null for datetime columns, so times are formatted here (dbTime).
 */
const raw = (name: string) => sql`${sql.placeholder(name)}`;

// Both statements are built by drizzle once per batch size and compiled to SQL text (see
// platform/db/compiled.ts), not per batch, and once per isolate, not per sink: every event's
// object drains the same shapes. The builder's client never runs anything (no URL of use).
const builder = drizzle({ client: new Client({ url: "https://sql-builder:unused@127.0.0.1" }) });
const same = sql`id = VALUES(id) AND VALUES(version) > version`;
const upserts = shapes((n) =>
  compile(
    builder
      .insert(userCoupons)
      .values(
        Array.from({ length: n }, (_, i) => ({
          id: sql.placeholder(`id${i}`),
          eventId: sql.placeholder(`eventId${i}`),
          userId: sql.placeholder(`userId${i}`),
          status: sql.placeholder(`status${i}`),
          issuedAt: raw(`issuedAt${i}`),
          expiresAt: raw(`expiresAt${i}`),
          redeemedAt: raw(`redeemedAt${i}`),
          orderId: sql.placeholder(`orderId${i}`),
          heldOrderId: sql.placeholder(`heldOrderId${i}`),
          heldUntil: raw(`heldUntil${i}`),
          version: sql.placeholder(`version${i}`),
          updatedAt: raw("now"),
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
      }),
  ),
);
const lookups = shapes((n) =>
  compile(
    builder
      .select({ id: userCoupons.id, eventId: userCoupons.eventId, userId: userCoupons.userId })
      .from(userCoupons)
      .where(
        inArray(
          userCoupons.id,
          Array.from({ length: n }, (_, i) => sql.placeholder(`id${i}`)),
        ),
      ),
  ),
);

/**
 * MySQL through PlanetScale's HTTP API (drizzle + @planetscale/database): one multi-row
 * `INSERT .. ON DUPLICATE KEY UPDATE` per batch. Idempotent: a redelivered row changes nothing,
 * and a row only moves forward (`version`), so replays and reordering cannot regress a coupon.
 */
export function mysqlSink(db: Database): Sink {
  const client = db.$client;
  const eventsWritten = new Set<string>();

  /**
   * Writes `items` and returns the seqs that are now in MySQL as themselves. The update half of
   * the upsert only touches a row with the same coupon id: a record that collides with a
   * *different* coupon on `(event_id, user_id)` changes nothing and comes back as a conflict.
   */
  async function upsert(items: OutboxItem[]): Promise<DeliveryReport> {
    const values: Record<string, unknown> = { now: dbTime(new Date().toISOString()) };
    // Rows past the batch repeat its last row: the same upsert twice in one statement changes
    // nothing the second time (the version is not newer), and the statement keeps its shape.
    const size = shapeSize(items.length);
    const rows = Array.from({ length: size }, (_, i) => items[Math.min(i, items.length - 1)]);
    rows.forEach((item, i) => {
      if (!item) return;
      const { coupon } = item.record;
      const version = item.version;
      values[`id${i}`] = coupon.id;
      values[`eventId${i}`] = coupon.eventId;
      values[`userId${i}`] = coupon.userId;
      values[`status${i}`] = coupon.status;
      values[`issuedAt${i}`] = dbTime(coupon.issuedAt);
      values[`expiresAt${i}`] = dbTime(coupon.expiresAt);
      values[`redeemedAt${i}`] = dbTime(coupon.redeemedAt);
      values[`orderId${i}`] = coupon.orderId;
      values[`heldOrderId${i}`] = coupon.hold?.orderId ?? null;
      values[`heldUntil${i}`] = dbTime(coupon.hold?.expiresAt ?? null);
      values[`version${i}`] = version;
    });
    const statement = upserts(size);
    await client.execute(statement.text, statement.args(values));
    return verify(items);
  }

  /** Reads the batch back by coupon id: only a row with the record's own event and user counts. */
  async function verify(items: OutboxItem[]): Promise<DeliveryReport> {
    const ids = [...new Set(items.map((i) => i.record.coupon.id))];
    const size = shapeSize(ids.length);
    const statement = lookups(size);
    const last = ids[ids.length - 1];
    const { rows } = await client.execute<StoredRow>(
      statement.text,
      statement.args(
        Object.fromEntries(Array.from({ length: size }, (_, i) => [`id${i}`, ids[i] ?? last])),
      ),
    );
    // The ids are VARBINARY (byte-exact): decoded by the columns' own decoders, as drizzle would.
    const stored = new Map(
      rows.map((r) => [
        userCoupons.id.mapFromDriverValue(r.id),
        {
          eventId: userCoupons.eventId.mapFromDriverValue(r.event_id),
          userId: userCoupons.userId.mapFromDriverValue(r.user_id),
        },
      ]),
    );
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
 * The statement size for a batch of `n`: exact up to 16, then the next multiple of 16. A live
 * drain takes whatever is pending, so its batch sizes spread over 1 to a few hundred; without
 * this every new size compiled a statement of its own (drizzle's query building, a share of the
 * objects' CPU in every fresh isolate). Padding is at most 15 repeated rows.
 */
export function shapeSize(n: number): number {
  return n <= 16 ? n : Math.ceil(n / 16) * 16;
}

/** Shapes kept per statement: 16 exact sizes and the multiples of 16 up to past a full batch. */
const MAX_SHAPES = 64;

/** `build(n)` once per `n` (a `shapeSize`), the least recently used dropped past MAX_SHAPES. */
function shapes<T>(build: (n: number) => T): (n: number) => T {
  const built = new Map<number, T>();
  return (n) => {
    let shape = built.get(n);
    if (shape === undefined) {
      shape = build(n);
      if (built.size >= MAX_SHAPES) built.delete(built.keys().next().value as number);
    } else built.delete(n);
    built.set(n, shape);
    return shape;
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
