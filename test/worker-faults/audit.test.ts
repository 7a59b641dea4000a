import { abortAllDurableObjects, evictDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { prng } from "../../loadtest/prng.ts";
import type { GatewayApi } from "../../local/stack-types.ts";
import {
  drained,
  fault,
  healAll,
  kafkaRecords,
  mysql,
  setApiRunning,
  userCouponRows,
} from "../worker/cloud.ts";
import { claim, createEvent, eventStub, getEvent } from "../worker/helpers.ts";

afterEach(healAll);

/**
 * In the style of Jepsen's total-queue checker: every acknowledged claim is an enqueue, MySQL and
 * the Kafka topic are the dequeues. After a randomized run with sink faults and object resets,
 * nothing acknowledged is lost, nothing unacknowledged appears, MySQL holds each exactly once.
 */
describe("audit: randomized claims with sink faults and object resets", () => {
  it("lost = 0, unexpected = 0, MySQL duplicates = 0, issued <= stock", async () => {
    const seed = Date.now() % 1_000_000;
    const random = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const stock = 300;
    const users = Array.from({ length: 450 }, (_, i) => `audit-${i}`);
    const event = await createEvent({ totalStock: stock });
    const acknowledged = new Map<string, string>(); // userId -> coupon id
    const history: string[] = [];

    for (let round = 0; round < 12; round++) {
      // Chaos: a random fault on a random API, or a reset of the object.
      const target = pick<GatewayApi>(["planetscale", "kafka"]);
      const action = pick(["none", "error", "hang", "stop", "evict", "abort"] as const);
      history.push(`${round}:${action}:${target}`);
      await healAll();
      if (action === "error" || action === "hang") await fault(target, { mode: action });
      if (action === "stop") await setApiRunning(target, false);
      if (action === "evict") await evictDurableObject(eventStub(event.id)).catch(() => undefined);
      if (action === "abort") await abortAllDurableObjects();

      // A burst of claims, with some users retrying.
      const burst = Array.from({ length: 40 }, () => pick(users));
      const answers = await Promise.all(
        burst.map(async (u) => ({ u, res: await claim(event.id, u) })),
      );
      for (const { u, res } of answers) {
        if (res.status === 201 || res.status === 200) {
          const { id } = await res.json<{ id: string }>();
          const before = acknowledged.get(u);
          expect(before === undefined || before === id, `user ${u} got two coupons`).toBe(true);
          acknowledged.set(u, id);
        } else {
          expect(res.status, `seed ${seed}`).toBe(409);
          await res.body?.cancel();
        }
      }
    }

    await healAll();
    await drained(event.id, 60_000);

    const acked = new Set(acknowledged.values());
    const rows = await userCouponRows(event.id);
    const inMysql = new Set(rows.map((r) => r.id));
    const topic = new Set((await kafkaRecords(event.id)).map((r) => r.key));
    const lost = [...acked].filter((id) => !inMysql.has(id) || !topic.has(id));
    const unexpected = [...new Set([...inMysql, ...topic])].filter((id) => !acked.has(id));
    const dupes = await mysql().execute(
      "SELECT COUNT(*) - COUNT(DISTINCT user_id) AS n FROM user_coupons WHERE event_id = ?",
      [event.id],
    );
    const context = `seed ${seed}, history ${history.join(" ")}`;
    expect(lost, context).toEqual([]);
    expect(unexpected, context).toEqual([]);
    expect(Number((dupes.rows[0] as { n: string }).n), context).toBe(0);
    expect(rows.length, context).toBe(acked.size);
    const view = await getEvent(event.id);
    expect(view.issued, context).toBe(acked.size);
    expect(view.issued, context).toBeLessThanOrEqual(stock);
  });
});
