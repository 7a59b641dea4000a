import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CouponEvent } from "../../durable-objects/coupon-event.ts";
import {
  drained,
  eventually,
  mysql,
  outboxTotals,
  queueRecord,
  stats,
  userCouponRows,
} from "../worker/cloud.ts";
import { claim, createEvent, eventStub } from "../worker/helpers.ts";

// Here and not in test/worker/: the dead letter it makes on purpose would show in the outbox
// totals that the sink tests there expect to be clean.

interface Coupon {
  id: string;
  eventId: string;
  userId: string;
  issuedAt: string;
}

describe("the MySQL sink never merges two coupons", () => {
  it("a record for the same event and user under another coupon id is dead-lettered and the original row is unchanged", async () => {
    const event = await createEvent({ totalStock: 10 });
    const original = await (await claim(event.id, "Carol")).json<Coupon>();
    await drained(event.id);
    const before = await userCouponRows(event.id);

    // A record no correct object would write: Carol again, with another coupon id.
    const forged = { ...original, id: "cpn_forgedforgedforgedforg", status: "redeemed" };
    await runInDurableObject(eventStub(event.id), (_: CouponEvent, state) => {
      const record = {
        type: "coupon.redeemed",
        schemaVersion: 1,
        coupon: forged,
        at: forged.issuedAt,
      };
      // Owed to MySQL only (Kafka is not under test here).
      queueRecord(state.storage.sql, record, { version: 2, sinks: ["mysql"] });
    });
    // Another claim schedules the drain that picks the forged row up.
    expect((await claim(event.id, "Dave")).status).toBe(201);

    const s = await eventually(
      () => stats(event.id),
      (x) => x.outbox.pending === 0 && x.sinks.mysql.deadLetters === 1,
      { what: "the forged record dead-lettered" },
    );
    expect(s.sinks.mysql.delivered).toBe(2); // Carol and Dave, not the forged record
    expect(s.sinks.mysql.lastError).toMatch(/conflict/);
    expect(s.sinks.mysql.lastError).not.toContain("Carol");

    const after = await userCouponRows(event.id);
    expect(after.find((r) => r.user_id === "Carol")).toEqual(before[0]);
    const forgedRows = await mysql().execute("SELECT id FROM user_coupons WHERE id = ?", [
      forged.id,
    ]);
    expect(forgedRows.rows).toHaveLength(0);

    // Visible to the operator service-wide, not only in the event's stats.
    await eventually(outboxTotals, (o) => (o?.deadLetters ?? 0) >= 1, {
      what: "the dead letter in the metrics summary",
    });

    // Leave the shared local cloud as found: the sink suites expect no dead letters.
    await runInDurableObject(eventStub(event.id), (_: CouponEvent, state) => {
      state.storage.sql.exec("DELETE FROM dead_letters");
    });
    expect((await claim(event.id, "Erin")).status).toBe(201);
    await drained(event.id);
  });
});
