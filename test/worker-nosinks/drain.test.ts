import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { SINK_NAMES } from "../../domain/sinks.ts";
import type { TestCouponEvent as CouponEvent } from "../worker/test-coupon-event.ts";
import {
  alarmAt,
  claimIn,
  type Harness,
  harness,
  inStorage,
  park,
  policy,
  statsOf,
  step,
} from "./drain-harness.ts";

// Each test drives the drain alarm by alarm against sinks that fail on command, on the object's
// manual clock: see the timing note in drain-harness.ts.

/**
 * Records pending in the outbox (its rows, and the issues in the claims log behind the slowest
 * sink's cursor), and records owed per sink (delivery rows, and issues after its cursor).
 */
function rows(h: Harness) {
  return inStorage(h, (sql) => {
    const count = (query: string, ...args: string[]) =>
      sql.exec<{ n: number }>(query, ...args).one().n;
    const issuesAfter = (cursor: string) =>
      `(SELECT COUNT(*) FROM claims WHERE rowid > (${cursor}))`;
    return {
      outbox: count(
        `SELECT (SELECT COUNT(*) FROM outbox) +
           ${issuesAfter("SELECT MIN(claims_rowid) FROM sink_cursor")} AS n`,
      ),
      ...Object.fromEntries(
        SINK_NAMES.map((s) => [
          s,
          count(
            `SELECT (SELECT COUNT(*) FROM outbox_delivery WHERE sink = ?1) +
               ${issuesAfter("SELECT claims_rowid FROM sink_cursor WHERE sink = ?1")} AS n`,
            s,
          ),
        ]),
      ),
    };
  });
}

describe("backoff", () => {
  it("a sink that cannot be reached is retried with capped exponential backoff on the object's clock, and the other sink is not held back", async () => {
    const h = await harness();
    const { mysql, kafka } = h.sinks;
    mysql.down = "connect ECONNREFUSED";
    await claimIn(h, ["a", "b", "c"]);
    await step(h);

    expect(kafka.users()).toEqual([["a", "b", "c"]]);
    expect(mysql.batches).toHaveLength(1);
    const during = await statsOf(h);
    expect(Object.keys(during.sinks)).toEqual(SINK_NAMES);
    expect(during.sinks.kafka).toMatchObject({ state: "ok", delivered: 3, backlog: 0 });
    expect(during.sinks.mysql).toMatchObject({ state: "retrying", delivered: 0, backlog: 3 });
    expect(during.sinks.mysql.lastError).toContain("ECONNREFUSED");
    expect(during.outbox.pending).toBe(3);

    // The n-th failure waits between half and all of min(max, base·2^(n-1)) (jitter).
    for (let failures = 1; failures <= 4; failures++) {
      const ceiling = Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** (failures - 1));
      const at = (await alarmAt(h)) as number;
      const wait = at - h.clock.now();
      expect(wait).toBeGreaterThanOrEqual(ceiling / 2);
      expect(wait).toBeLessThanOrEqual(ceiling);

      // An alarm before that time sends nothing and comes back at the same time.
      h.clock.set(at - 1);
      await step(h);
      expect(mysql.batches).toHaveLength(failures);
      expect(await alarmAt(h)).toBe(at);

      h.clock.set(at);
      if (failures === 4) mysql.down = null;
      await step(h);
      expect(mysql.batches).toHaveLength(failures + 1);
    }

    const after = await statsOf(h);
    expect(after.sinks.mysql).toMatchObject({ state: "ok", delivered: 3, backlog: 0 });
    expect(after.outbox.pending).toBe(0);
    expect(kafka.batches).toHaveLength(1);
    expect(await alarmAt(h)).toBeNull();
  });
});

describe("dead letters", () => {
  it("a record a sink refuses is retried alone, parked after SINK_MAX_ATTEMPTS without holding anything back, and re-queued for that sink only", async () => {
    const h = await harness();
    const { mysql, kafka } = h.sinks;
    kafka.refuse.set("poison", false);
    await claimIn(h, ["a", "poison", "b"]);
    await step(h);

    expect(mysql.users()).toEqual([["a", "poison", "b"]]);
    expect(kafka.users()).toEqual([["a", "poison", "b"]]);
    const first = await statsOf(h);
    // "a" and "b" are everywhere already: only the refused record stays.
    expect(first.outbox.pending).toBe(1);
    expect(first.sinks.kafka).toMatchObject({ state: "retrying", delivered: 2, backlog: 1 });
    expect(first.sinks.kafka.lastError).toBe("refused poison");

    for (let attempt = 2; attempt <= policy.maxAttempts; attempt++) {
      h.clock.set((await alarmAt(h)) as number);
      await step(h);
      expect(kafka.users().at(-1)).toEqual(["poison"]);
    }
    expect(kafka.batches).toHaveLength(policy.maxAttempts);
    const parked = await statsOf(h);
    expect(parked.outbox).toMatchObject({ pending: 0, deadLetters: 1 });
    expect(parked.sinks.kafka).toMatchObject({ state: "ok", backlog: 0, deadLetters: 1 });
    expect(parked.sinks.mysql).toMatchObject({ delivered: 3, deadLetters: 0 });
    expect(await alarmAt(h)).toBeNull();
    const letters = await runInDurableObject(h.stub, (o: CouponEvent) => o.deadLetters());
    expect(letters).toEqual([
      expect.objectContaining({
        sink: "kafka",
        attempts: policy.maxAttempts,
        error: "refused poison",
      }),
    ]);

    // Downstream fixed, the operator re-queues: Kafka gets the record again, MySQL does not.
    kafka.refuse.clear();
    const requeued = await runInDurableObject(h.stub, (o: CouponEvent) => o.requeueDeadLetters());
    expect(requeued).toEqual({ requeued: 1 });
    await park(h);
    await step(h);
    expect(kafka.users().at(-1)).toEqual(["poison"]);
    expect(mysql.batches).toHaveLength(1);
    const done = await statsOf(h);
    expect(done.outbox).toMatchObject({ pending: 0, deadLetters: 0 });
    expect(done.sinks.kafka).toMatchObject({ delivered: 3, deadLetters: 0 });
    expect(await rows(h)).toEqual({ outbox: 0, mysql: 0, kafka: 0 });
  });

  it("a record refused for good is parked at its first refusal", async () => {
    const h = await harness();
    h.sinks.mysql.refuse.set("twin", true);
    await claimIn(h, ["twin", "c"]);
    await step(h);

    const s = await statsOf(h);
    expect(s.outbox).toMatchObject({ pending: 0, deadLetters: 1 });
    expect(s.sinks.mysql).toMatchObject({ delivered: 1, backlog: 0, deadLetters: 1 });
    const letters = await runInDurableObject(h.stub, (o: CouponEvent) => o.deadLetters());
    expect(letters).toEqual([expect.objectContaining({ sink: "mysql", attempts: 1 })]);
    expect(await alarmAt(h)).toBeNull();
  });
});

describe("batches", () => {
  it("full batches go out back to back in one alarm, and a partial batch ends the step", async () => {
    const h = await harness();
    const n = 2 * policy.batchSize + 2;
    await claimIn(
      h,
      Array.from({ length: n }, (_, i) => `u${i}`),
    );
    await step(h);

    for (const sink of Object.values(h.sinks)) {
      expect(sink.batches.map((b) => b.length)).toEqual([policy.batchSize, policy.batchSize, 2]);
    }
    expect((await statsOf(h)).outbox.pending).toBe(0);
    expect(await alarmAt(h)).toBeNull();
  });

  it("records claimed while a batch is in flight wait for the next alarm", async () => {
    const h = await harness();
    const { mysql, kafka } = h.sinks;
    let release = () => {};
    mysql.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    await claimIn(h, ["a", "b"]);
    const running = runDurableObjectAlarm(h.stub);
    await vi.waitFor(() => expect(mysql.batches).toHaveLength(1));
    await claimIn(h, ["c", "d", "e"]);
    mysql.gate = null;
    release();
    expect(await running).toBe(true);

    // Each sink read its batch before the claims came in.
    expect(mysql.users()).toEqual([["a", "b"]]);
    expect(kafka.users()).toEqual([["a", "b"]]);
    expect((await statsOf(h)).outbox.pending).toBe(3);
    expect(await alarmAt(h)).toBe(h.clock.now());

    await step(h);
    expect(mysql.users().at(-1)).toEqual(["c", "d", "e"]);
    expect(kafka.users().at(-1)).toEqual(["c", "d", "e"]);
    expect((await statsOf(h)).outbox.pending).toBe(0);
  });
});

describe("pruning", () => {
  it("a record leaves the outbox once every enabled sink has it, and a disabled sink holds nothing back", async () => {
    const h = await harness();
    const { mysql, kafka } = h.sinks;
    mysql.down = "timeout";
    await claimIn(h, ["a", "b"]);
    await step(h);
    expect(await rows(h)).toEqual({ outbox: 2, mysql: 2, kafka: 0 });

    mysql.down = null;
    h.clock.set((await alarmAt(h)) as number);
    await step(h);
    expect(await rows(h)).toEqual({ outbox: 0, mysql: 0, kafka: 0 });

    // Kafka disabled: what it would owe is dropped, and MySQL alone decides.
    await runInDurableObject(h.stub, (o: CouponEvent) => {
      o.testHooks.sinks = { mysql, kafka: null };
    });
    await claimIn(h, ["c"]);
    await step(h);
    expect(await rows(h)).toEqual({ outbox: 0, mysql: 0, kafka: 0 });
    expect(kafka.batches).toHaveLength(1);
    const s = await statsOf(h);
    expect(s.sinks.kafka).toMatchObject({ state: "disabled", backlog: 0 });
    expect(s.sinks.mysql).toMatchObject({ state: "ok", delivered: 3 });
  });
});

describe("the claims log", () => {
  it("an issue costs no outbox row: both sinks read it from the claims, once per step", async () => {
    const h = await harness();
    await claimIn(h, ["a", "b"]);
    expect(
      await inStorage(h, (sql) => ({
        outbox: sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n,
        deliveries: sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox_delivery").one().n,
      })),
    ).toEqual({ outbox: 0, deliveries: 0 });
    expect(await rows(h)).toEqual({ outbox: 2, mysql: 2, kafka: 2 });
    await step(h);

    const [mysqlBatch] = h.sinks.mysql.batches;
    const [kafkaBatch] = h.sinks.kafka.batches;
    expect(mysqlBatch?.map((i) => i.record.coupon.userId)).toEqual(["a", "b"]);
    // One read for both sinks: the very same items.
    expect(kafkaBatch?.[0]).toBe(mysqlBatch?.[0]);
    // The record as the claim would have written it: the coupon as of issue, version 1.
    expect(mysqlBatch?.[0]).toMatchObject({
      version: 1,
      record: {
        type: "coupon.issued",
        schemaVersion: 1,
        coupon: { userId: "a", status: "issued", redeemedAt: null, orderId: null, hold: null },
        at: new Date(h.clock.now()).toISOString(),
      },
    });
    expect(await rows(h)).toEqual({ outbox: 0, mysql: 0, kafka: 0 });
  });

  it("records go out in the order they were written, a change always after its coupon's issue", async () => {
    const h = await harness();
    await claimIn(h, ["a"]);
    await runInDurableObject(h.stub, (o: CouponEvent) => {
      const coupon = o.claimOf("a");
      if (!coupon) throw new Error("no coupon");
      expect(
        o.redeem({ couponId: coupon.id, userId: "a", orderId: "o-1", idempotencyKey: "k-1" })
          .outcome,
      ).toBe("ok");
    });
    await claimIn(h, ["b"]);
    await park(h);
    await step(h);
    for (const sink of Object.values(h.sinks)) {
      expect(
        sink.batches[0]?.map((i) => `${i.record.type} ${i.record.coupon.userId} v${i.version}`),
      ).toEqual(["coupon.issued a v1", "coupon.redeemed a v2", "coupon.issued b v1"]);
    }
  });

  it("an issue one sink refuses while the other is down is owed to each, and pending counts it once", async () => {
    const h = await harness();
    const { mysql, kafka } = h.sinks;
    mysql.down = "connect ECONNREFUSED";
    kafka.refuse.set("poison", false);
    await claimIn(h, ["a", "poison"]);
    await step(h);
    expect(await rows(h)).toEqual({ outbox: 3, mysql: 2, kafka: 1 });
    const s = await statsOf(h);
    expect(s.outbox.pending).toBe(2);
    expect(s.sinks.mysql).toMatchObject({ backlog: 2, state: "retrying" });
    expect(s.sinks.kafka).toMatchObject({ backlog: 1, delivered: 1, state: "retrying" });

    mysql.down = null;
    kafka.refuse.clear();
    h.clock.set((await alarmAt(h)) as number);
    await step(h);
    while ((await statsOf(h)).outbox.pending > 0) {
      h.clock.set((await alarmAt(h)) as number);
      await step(h);
    }
    // MySQL's first batch failed whole; Kafka took "a" at once and "poison" on its retry.
    expect(mysql.users()).toEqual([
      ["a", "poison"],
      ["a", "poison"],
    ]);
    expect(kafka.users()).toEqual([["a", "poison"], ["poison"]]);
    expect(await rows(h)).toEqual({ outbox: 0, mysql: 0, kafka: 0 });
    const done = await statsOf(h);
    expect(done.sinks.mysql).toMatchObject({ delivered: 2, backlog: 0, deadLetters: 0 });
    expect(done.sinks.kafka).toMatchObject({ delivered: 2, backlog: 0, deadLetters: 0 });
  });
});
