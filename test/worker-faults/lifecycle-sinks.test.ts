import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { CouponEvent } from "../../durable-objects/coupon-event.ts";
import {
  drained,
  healAll,
  kafkaRecords,
  mysql,
  queueRecord,
  setApiRunning,
} from "../worker/cloud.ts";
import { admin, api, asUser, claim, createEvent, eventStub } from "../worker/helpers.ts";

afterEach(healAll);

interface Coupon {
  id: string;
}

const post = async (path: string, body: unknown, headers: Record<string, string>) =>
  api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

async function row(couponId: string) {
  const result = await mysql().execute(
    "SELECT status, order_id, held_order_id, version FROM user_coupons WHERE id = ?",
    [couponId],
  );
  return result.rows[0];
}

describe("every change of a coupon reaches MySQL and Kafka", () => {
  it("issue, hold, redeem (sinks down), restore: MySQL's row follows exactly, Kafka has each record, a late redelivery changes nothing", async () => {
    const event = await createEvent({ totalStock: 3 });
    const user = await asUser("lifer");
    const coupon = await (await claim(event.id, "lifer")).json<Coupon>();
    expect(
      (await post(`/v1/coupons/${coupon.id}/hold`, { orderId: "o-1", ttlSeconds: 600 }, user))
        .status,
    ).toBe(200);
    await drained(event.id);
    expect(await row(coupon.id)).toEqual({
      status: "issued",
      order_id: null,
      held_order_id: "o-1",
      version: 2,
    });

    // Both sinks down while the coupon is redeemed and restored.
    await setApiRunning("planetscale", false);
    await setApiRunning("kafka", false);
    const redeemed = await post(
      `/v1/coupons/${coupon.id}/redeem`,
      { orderId: "o-1" },
      {
        ...user,
        "Idempotency-Key": "pay-1",
      },
    );
    expect(redeemed.status).toBe(200);
    expect(
      (await post(`/v1/coupons/${coupon.id}/restore`, { orderId: "o-1" }, admin())).status,
    ).toBe(200);
    await setApiRunning("planetscale", true);
    await setApiRunning("kafka", true);
    await drained(event.id);

    expect(await row(coupon.id)).toEqual({
      status: "issued",
      order_id: null,
      held_order_id: null,
      version: 4,
    });
    const records = (await kafkaRecords(event.id)).filter((r) => r.key === coupon.id);
    expect([...new Set(records.map((r) => `${r.value.type}@${r.value.coupon.id}`))]).toEqual([
      `coupon.issued@${coupon.id}`,
      `coupon.held@${coupon.id}`,
      `coupon.redeemed@${coupon.id}`,
      `coupon.restored@${coupon.id}`,
    ]);

    // The redeemed record delivered again, late: the row never moves backwards.
    const redeemedRecord = records.find((r) => r.value.type === "coupon.redeemed")?.value;
    await runInDurableObject(eventStub(event.id), (_: CouponEvent, state) => {
      if (!redeemedRecord) throw new Error("no coupon.redeemed record on the topic");
      queueRecord(state.storage.sql, redeemedRecord, { version: 3, sinks: ["mysql"] });
    });
    expect((await claim(event.id, "someone-else")).status).toBe(201); // schedules the drain
    await drained(event.id);
    expect(await row(coupon.id)).toEqual({
      status: "issued",
      order_id: null,
      held_order_id: null,
      version: 4,
    });
  });
});
