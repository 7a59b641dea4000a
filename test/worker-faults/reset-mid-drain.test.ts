import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import {
  drained,
  healAll,
  kafkaRecords,
  mysql,
  queueRecord,
  userCouponRows,
} from "../worker/cloud.ts";
import { claim, createEvent, eventStub } from "../worker/helpers.ts";
import type { TestCouponEvent as CouponEvent } from "../worker/test-coupon-event.ts";

afterEach(healAll);

describe("the object reset in the middle of a drain", () => {
  it("after the sinks wrote and before the outbox recorded it: nothing lost, no MySQL duplicate", async () => {
    const event = await createEvent({ totalStock: 40 });
    let resets = 0;
    // The hook runs inside the drain, after both sinks answered, before the outbox is updated.
    await runInDurableObject(eventStub(event.id), (instance: CouponEvent, state) => {
      instance.testHooks.afterDelivery = async () => {
        resets++;
        state.abort("reset between delivery and bookkeeping");
      };
    });
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => claim(event.id, `r${i}`)),
    );
    expect(answers.every((r) => r.status === 201)).toBe(true);

    // The rebuilt object has no hook: its drain redelivers the same rows, idempotently.
    await drained(event.id, 45_000);
    expect(resets).toBe(1);
    const rows = await userCouponRows(event.id);
    expect(rows).toHaveLength(40);
    const dupes = await mysql().execute(
      "SELECT user_id, COUNT(*) AS n FROM user_coupons WHERE event_id = ? GROUP BY user_id HAVING n > 1",
      [event.id],
    );
    expect(dupes.rows).toEqual([]);
    // Kafka is at-least-once: the redelivered batch may appear twice, never a key missing.
    const records = await kafkaRecords(event.id);
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(rows.map((r) => r.id)));
  });

  it("a batch holding a coupon already in MySQL is accepted idempotently", async () => {
    const event = await createEvent({ totalStock: 5 });
    const first = await (await claim(event.id, "i0")).json<{ id: string; issuedAt: string }>();
    const record = { type: "coupon.issued", schemaVersion: 1, coupon: first, at: first.issuedAt };
    await drained(event.id);
    // Replay the same change by re-queuing it as if it had never been recorded as delivered.
    await runInDurableObject(eventStub(event.id), (_instance: CouponEvent, state) => {
      queueRecord(state.storage.sql, record, { createdAt: 0 });
    });
    await Promise.all(["i1", "i2"].map((u) => claim(event.id, u)));
    await drained(event.id);
    const rows = await userCouponRows(event.id);
    expect(rows).toHaveLength(3);
    expect(rows.filter((r) => r.id === first.id)).toHaveLength(1);
  });
});
