import { afterEach, describe, expect, it } from "vitest";
import {
  eventually,
  fault,
  healAll,
  kafkaRecords,
  stats,
  userCouponRows,
} from "../worker/cloud.ts";
import { admin, api, claim, createEvent } from "../worker/helpers.ts";

afterEach(healAll);

interface Coupon {
  id: string;
}

async function claimAll(eventId: string, n: number): Promise<Coupon[]> {
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => claim(eventId, `p${i}`)));
  return Promise.all(answers.map((r) => r.json<Coupon>()));
}

describe("records a sink refuses", () => {
  it("a Kafka answer failing one record holds back only that record", async () => {
    const event = await createEvent({ totalStock: 20 });
    // The gateway refuses any record mentioning this user, inside an HTTP 200.
    await fault("kafka", { rejectMatching: [`"userId":"p7"`] });
    const coupons = await claimAll(event.id, 20);
    const refused = coupons[7]?.id;

    // The other 19 go through at once; the refused one is retried, then parked.
    const s = await eventually(
      () => stats(event.id),
      (x) =>
        x.sinks.kafka.delivered === 19 && x.sinks.kafka.deadLetters === 1 && x.outbox.pending === 0,
      { what: "19 on Kafka, 1 parked" },
    );
    expect(s.sinks.mysql).toMatchObject({ delivered: 20, deadLetters: 0 });
    expect(s.sinks.kafka.lastError).toBeTruthy();
    expect(await userCouponRows(event.id)).toHaveLength(20);
    const keys = new Set((await kafkaRecords(event.id)).map((r) => r.key));
    expect(keys.size).toBe(19);
    expect(keys.has(refused as string)).toBe(false);

    await healAll();
    await api(`/v1/events/${event.id}/dead-letters/requeue`, { method: "POST", headers: admin() });
    await eventually(
      () => kafkaRecords(event.id),
      (r) => new Set(r.map((x) => x.key)).size === 20,
      {
        what: "the parked record on Kafka",
      },
    );
    // MySQL already had it: the re-queued row went to Kafka only.
    expect((await stats(event.id)).sinks.mysql.delivered).toBe(20);
  });

  it("a poison record is dead-lettered after bounded attempts while the others drain, and can be re-queued", async () => {
    const event = await createEvent({ totalStock: 30 });
    await fault("planetscale", { rejectMatching: ["'p13'"] });
    const coupons = await claimAll(event.id, 30);

    const s = await eventually(
      () => stats(event.id),
      (x) => x.outbox.pending === 0 && x.sinks.mysql.deadLetters === 1,
      { what: "poison parked, rest drained" },
    );
    expect(s.sinks.mysql.delivered).toBe(29);
    expect(s.outbox.deadLetters).toBe(1);
    expect((await userCouponRows(event.id)).map((r) => r.user_id)).not.toContain("p13");

    const letters = await api(`/v1/events/${event.id}/dead-letters`, { headers: admin() });
    const { items } = await letters.json<{
      items: { sink: string; attempts: number; couponId: string }[];
    }>();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ sink: "mysql", attempts: 3 });

    await healAll();
    const requeue = await api(`/v1/events/${event.id}/dead-letters/requeue`, {
      method: "POST",
      headers: admin(),
    });
    expect(await requeue.json()).toEqual({ requeued: 1 });
    await eventually(
      () => userCouponRows(event.id),
      (rows) => rows.length === 30,
      { what: "30 rows" },
    );
    expect((await stats(event.id)).sinks.mysql.deadLetters).toBe(0);
    expect(new Set((await userCouponRows(event.id)).map((r) => r.id))).toEqual(
      new Set(coupons.map((c) => c.id)),
    );
  });
});
