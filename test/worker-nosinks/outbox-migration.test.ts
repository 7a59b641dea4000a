import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../domain/clock.ts";
import { perSink } from "../../domain/sinks.ts";
import { MIGRATIONS, migrate } from "../../durable-objects/storage-schema.ts";
import { eventStub, uniqueId } from "../worker/helpers.ts";
import type { TestCouponEvent as CouponEvent } from "../worker/test-coupon-event.ts";
import { CLOCK_START, FakeSink, statsOf, step } from "./drain-harness.ts";

/** The last schema that kept each sink's delivery state in columns of `outbox`. */
const BEFORE = MIGRATIONS.findIndex((m) => m.includes("CREATE TABLE outbox_delivery"));
/** The last schema that kept an `outbox` row for every issued coupon. */
const BEFORE_CURSORS = MIGRATIONS.findIndex((m) => m.includes("CREATE TABLE sink_cursor"));
const PARKED = Date.parse("2200-01-01T00:00:00Z");

const record = (eventId: string, user: string) => ({
  type: "coupon.issued",
  schemaVersion: 1,
  coupon: {
    id: `cpn_${user}`,
    eventId,
    userId: user,
    status: "issued",
    issuedAt: new Date(CLOCK_START).toISOString(),
    expiresAt: null,
    redeemedAt: null,
    orderId: null,
    hold: null,
  },
  at: new Date(CLOCK_START).toISOString(),
});

/** Empties a fresh object's storage and lays out the schema as of migration `version`. */
function storageOfDeploy(sql: SqlStorage, version: number): void {
  const tables = sql
    .exec<{ name: string }>(
      `SELECT name FROM sqlite_master WHERE type = 'table'
       AND substr(name, 1, 7) <> 'sqlite_' AND substr(name, 1, 4) <> '_cf_'`,
    )
    .toArray();
  for (const { name } of tables) sql.exec(`DROP TABLE "${name}"`);
  migrate(sql, version);
}

/**
 * Starts the object again with the new code (whose constructor migrates), with fake sinks and a
 * manual clock, and reads the schema version and whatever `read` takes from the upgraded storage.
 */
async function upgrade<T>(
  stub: DurableObjectStub<CouponEvent>,
  read: (sql: SqlStorage, o: CouponEvent) => T,
) {
  await evictDurableObject(stub);
  const sinks = perSink(() => new FakeSink());
  const clock = new ManualClock(CLOCK_START);
  const migrated = await runInDurableObject(stub, (o: CouponEvent, state) => {
    o.clock = clock;
    o.testHooks.sinks = sinks;
    const sql = state.storage.sql;
    const version = sql.exec<{ version: number }>("SELECT version FROM _schema").one().version;
    return { version, ...read(sql, o) };
  });
  return { sinks, clock, migrated };
}

describe("the outbox storage of an older deploy", () => {
  it("is migrated in place: per-sink columns become delivery rows, and pending rows drain after the upgrade", async () => {
    expect(BEFORE).toBeGreaterThan(0);
    const eventId = uniqueId();
    const stub = eventStub(eventId);

    // Rebuild this fresh object's storage as the older deploy left it.
    await runInDurableObject(stub, async (_: CouponEvent, state) => {
      const sql = state.storage.sql;
      storageOfDeploy(sql, BEFORE);
      sql.exec(
        "INSERT INTO event (singleton, definition, created_at) VALUES (1, ?, ?)",
        JSON.stringify({
          id: eventId,
          name: "Before the upgrade",
          totalStock: 10,
          startsAt: CLOCK_START - 60_000,
          endsAt: null,
          couponExpiresAt: null,
          waves: [{ at: CLOCK_START - 60_000, quantity: 10 }],
        }),
        CLOCK_START - 60_000,
      );
      // state per sink: 0 pending, 1 delivered, 2 dead-lettered
      const old = [
        { user: "both-pending", mysql: [0, 0, 0], kafka: [0, 0, 0] },
        { user: "kafka-retrying", mysql: [1, 0, 0], kafka: [0, 2, CLOCK_START + 1_000] },
        { user: "mysql-retrying", mysql: [0, 1, CLOCK_START + 500], kafka: [1, 0, 0] },
        { user: "all-done", mysql: [1, 0, 0], kafka: [2, 5, 0] },
      ];
      for (const row of old) {
        sql.exec(
          `INSERT INTO outbox (coupon_id, version, payload, created_at,
             mysql_state, mysql_attempts, mysql_retry_at, kafka_state, kafka_attempts, kafka_retry_at)
           VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
          `cpn_${row.user}`,
          JSON.stringify(record(eventId, row.user)),
          CLOCK_START,
          ...row.mysql,
          ...row.kafka,
        );
      }
      // Keep the drain in the test's hands when the upgraded object starts (it would schedule one).
      await state.storage.setAlarm(PARKED);
    });

    // The next start runs the new code's constructor, and with it the migration.
    const { sinks, clock, migrated } = await upgrade(stub, (sql) => ({
      columns: sql
        .exec<{ name: string }>("SELECT name FROM pragma_table_info('outbox')")
        .toArray()
        .map((c) => c.name),
      deliveries: sql
        .exec(
          `SELECT d.sink, o.coupon_id, d.attempts, d.retry_at FROM outbox_delivery d
             JOIN outbox o ON o.seq = d.seq ORDER BY d.sink, d.seq`,
        )
        .toArray(),
    }));
    expect(migrated.version).toBe(MIGRATIONS.length);
    expect(migrated.columns).toEqual(["seq", "coupon_id", "version", "payload", "created_at"]);
    expect(migrated.deliveries).toEqual([
      { sink: "kafka", coupon_id: "cpn_both-pending", attempts: 0, retry_at: 0 },
      {
        sink: "kafka",
        coupon_id: "cpn_kafka-retrying",
        attempts: 2,
        retry_at: CLOCK_START + 1_000,
      },
      { sink: "mysql", coupon_id: "cpn_both-pending", attempts: 0, retry_at: 0 },
      { sink: "mysql", coupon_id: "cpn_mysql-retrying", attempts: 1, retry_at: CLOCK_START + 500 },
    ]);

    // Rows in backoff keep their retry times across the upgrade.
    await step({ stub });
    expect(sinks.mysql.users()).toEqual([["both-pending"]]);
    expect(sinks.kafka.users()).toEqual([["both-pending"]]);

    clock.set(CLOCK_START + 1_000);
    await step({ stub });
    expect(sinks.mysql.users()).toEqual([["both-pending"], ["mysql-retrying"]]);
    expect(sinks.kafka.users()).toEqual([["both-pending"], ["kafka-retrying"]]);

    const stats = await statsOf({ stub });
    expect(stats.outbox.pending).toBe(0);
    expect(stats.sinks.mysql).toMatchObject({ state: "ok", delivered: 2, backlog: 0 });
    expect(stats.sinks.kafka).toMatchObject({ state: "ok", delivered: 2, backlog: 0 });
  });

  it("issues move to the claims log: cursors start after the claims already in outbox rows, so nothing is lost or sent twice", async () => {
    expect(BEFORE_CURSORS).toBeGreaterThan(BEFORE);
    const eventId = uniqueId();
    const stub = eventStub(eventId);

    // Storage as the deploy before the claims log left it: every issue has an outbox row, owed
    // by the sinks that have not taken it yet.
    await runInDurableObject(stub, async (_: CouponEvent, state) => {
      const sql = state.storage.sql;
      storageOfDeploy(sql, BEFORE_CURSORS);
      sql.exec(
        "INSERT INTO event (singleton, definition, issued, created_at) VALUES (1, ?, 4, ?)",
        JSON.stringify({
          id: eventId,
          name: "Before the claims log",
          totalStock: 10,
          startsAt: CLOCK_START - 60_000,
          endsAt: null,
          couponExpiresAt: null,
          waves: [{ at: CLOCK_START - 60_000, quantity: 10 }],
        }),
        CLOCK_START - 60_000,
      );
      const owed: Record<string, string[]> = {
        delivered: [],
        "mysql-owes": ["mysql"],
        "kafka-owes": ["kafka"],
        "both-owe": ["mysql", "kafka"],
      };
      for (const [user, sinks] of Object.entries(owed)) {
        sql.exec(
          "INSERT INTO claims (user_id, coupon_id, issued_at) VALUES (?, ?, ?)",
          user,
          `cpn_${user}`,
          CLOCK_START,
        );
        if (sinks.length === 0) continue;
        const { seq } = sql
          .exec<{ seq: number }>(
            `INSERT INTO outbox (coupon_id, version, payload, created_at) VALUES (?, 1, ?, ?)
             RETURNING seq`,
            `cpn_${user}`,
            JSON.stringify(record(eventId, user)),
            CLOCK_START,
          )
          .one();
        for (const sink of sinks)
          sql.exec("INSERT INTO outbox_delivery (sink, seq) VALUES (?, ?)", sink, seq);
      }
      await state.storage.setAlarm(PARKED);
    });

    const { sinks, migrated } = await upgrade(stub, (sql, o) => ({
      cursors: sql.exec("SELECT sink, claims_rowid FROM sink_cursor ORDER BY sink").toArray(),
      stats: o.stats(),
    }));
    expect(migrated.version).toBe(MIGRATIONS.length);
    expect(migrated.cursors).toEqual([
      { sink: "kafka", claims_rowid: 4 },
      { sink: "mysql", claims_rowid: 4 },
    ]);
    expect(migrated.stats?.outbox.pending).toBe(3);
    expect(migrated.stats?.sinks.mysql.backlog).toBe(2);
    expect(migrated.stats?.sinks.kafka.backlog).toBe(2);

    // A claim after the upgrade is read from the claims log; the old rows drain as they were.
    await runInDurableObject(stub, async (o: CouponEvent, state) => {
      expect(o.claim("after").outcome).toBe("issued");
      await state.storage.setAlarm(PARKED);
    });
    await step({ stub });
    expect(sinks.mysql.users()).toEqual([["mysql-owes", "both-owe", "after"]]);
    expect(sinks.kafka.users()).toEqual([["kafka-owes", "both-owe", "after"]]);
    const stats = await statsOf({ stub });
    expect(stats.outbox.pending).toBe(0);
    expect(stats.sinks.mysql).toMatchObject({ state: "ok", delivered: 3, backlog: 0 });
    expect(stats.sinks.kafka).toMatchObject({ state: "ok", delivered: 3, backlog: 0 });

    // Nothing is sent twice.
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    expect(sinks.mysql.batches).toHaveLength(1);
  });
});
