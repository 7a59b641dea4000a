import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CouponView } from "../../domain/coupon.ts";
import type { EventDefinition } from "../../domain/ledger.ts";
import { type ClaimBatchAnswer, type ClaimDecision, MAX_CLAIM_BATCH } from "../../domain/views.ts";
import { eventStub, uniqueId } from "../worker/helpers.ts";
import type { TestCouponEvent as CouponEvent } from "../worker/test-coupon-event.ts";

// The object's side of batched claims, called on the object itself (no Worker in between).

/** An open event defined on its object directly. */
async function openEvent(totalStock: number, extra: Partial<EventDefinition> = {}) {
  const def: EventDefinition = {
    id: uniqueId("batch"),
    name: "Batch",
    totalStock,
    startsAt: Date.now() - 60_000,
    endsAt: null,
    couponExpiresAt: null,
    waves: [{ at: Date.now() - 60_000, quantity: totalStock }],
    ...extra,
  };
  const stub = eventStub(def.id);
  expect((await stub.define(def)).outcome).toBe("created");
  return stub;
}

function decided(answer: ClaimBatchAnswer) {
  if (answer.outcome !== "decided") throw new Error(`unexpected ${answer.outcome}`);
  return answer;
}

const couponOf = (d: ClaimDecision | undefined): CouponView => {
  if (!d || d.outcome === "refused") throw new Error(`no coupon: ${JSON.stringify(d)}`);
  return d.coupon;
};

function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rows changed on the object's SQLite connection so far, and the database's size. */
function writes(state: DurableObjectState): { changes: number; size: number } {
  return {
    changes: state.storage.sql.exec<{ n: number }>("SELECT total_changes() AS n").one().n,
    size: state.storage.sql.databaseSize,
  };
}

describe("claimBatch", () => {
  it("500 users in batches against stock 300: exactly 300 issued, in arrival order, the rest sold out", async () => {
    const stub = await openEvent(300);
    const users = Array.from({ length: 500 }, (_, i) => `u${i}`);
    const answers = await Promise.all(
      batches(users, 128).map((batch) => stub.claimBatch(batch).then(decided)),
    );
    const results = answers.flatMap((a) => a.results);
    expect(results).toHaveLength(500);
    expect(results.filter((r) => r.outcome === "issued")).toHaveLength(300);
    // Batches are decided one after another, each in arrival order.
    expect(results.slice(0, 300).every((r) => r.outcome === "issued")).toBe(true);
    expect(results.slice(300).every((r) => r.outcome === "refused")).toBe(true);
    expect(results[300]).toEqual({ outcome: "refused", refusal: { slug: "sold-out" } });
    results.slice(0, 300).forEach((r, i) => {
      expect(couponOf(r).userId).toBe(users[i]);
    });
    expect(new Set(results.slice(0, 300).map((r) => couponOf(r).id)).size).toBe(300);
    expect(answers.at(-1)?.counters).toMatchObject({ issued: 300, version: 300 });

    const stored = await runInDurableObject(stub, (o: CouponEvent, state) => ({
      claims: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM claims").one().n,
      issued: state.storage.sql.exec<{ n: number }>("SELECT issued AS n FROM event").one().n,
      calls: o.claimCalls,
      stats: o.stats(),
    }));
    expect(stored).toMatchObject({ claims: 300, issued: 300, calls: 500 });
    expect(stored.stats?.claims.issued).toBe(300);
    expect(stored.stats?.claims.rejected).toEqual({ "sold-out": 200 });
  });

  it("250 users twice each, concurrently, against stock 300: one coupon per user, the same one both times", async () => {
    const stub = await openEvent(300);
    const users = Array.from({ length: 250 }, (_, i) => `twice-${i}`);
    // Each user twice, once in an early and once in a later position of the crowd.
    const crowd = [...users, ...users.toReversed()];
    const answers = await Promise.all(
      batches(crowd, 100).map((batch) => stub.claimBatch(batch).then(decided)),
    );
    const results = answers.flatMap((a) => a.results);
    const byUser = new Map<string, ClaimDecision[]>();
    crowd.forEach((user, i) => {
      byUser.set(user, [...(byUser.get(user) ?? []), results[i] as ClaimDecision]);
    });
    for (const [user, [first, second]] of byUser) {
      expect(first?.outcome, user).toBe("issued");
      expect(second?.outcome, user).toBe("existing");
      expect(couponOf(second)).toEqual(couponOf(first));
    }
    expect(results.filter((r) => r.outcome === "issued")).toHaveLength(250);
    expect(answers.at(-1)?.counters.issued).toBe(250);
  });

  it("a user twice in one batch: issued first, the same coupon as existing after; stock running out mid-batch refuses later newcomers only", async () => {
    const stub = await openEvent(2);
    const answer = decided(await stub.claimBatch(["a", "b", "a", "c", "b", "d"]));
    expect(answer.results.map((r) => r.outcome)).toEqual([
      "issued",
      "issued",
      "existing",
      "refused",
      "existing",
      "refused",
    ]);
    const [a1, b1, a2, c, b2] = answer.results;
    expect(couponOf(a2)).toEqual(couponOf(a1));
    expect(couponOf(b2)).toEqual(couponOf(b1));
    expect(c).toEqual({ outcome: "refused", refusal: { slug: "sold-out" } });
    expect(answer.counters.issued).toBe(2);
    // Sold out, so the holders are final: a caller asking for them gets them.
    const again = decided(await stub.claimBatch(["a", "e"], { wantHolders: true }));
    expect(again.results.map((r) => r.outcome)).toEqual(["existing", "refused"]);
    expect(couponOf(again.results[0])).toEqual(couponOf(a1));
    expect(again.holders?.kind).toBe("fingerprints");
  });

  it("each coupon comes with its JSON, built once: the body a Worker sends as is", async () => {
    const stub = await openEvent(5, { couponExpiresAt: Date.now() + 86_400_000 });
    const answer = decided(await stub.claimBatch(["j1", "j1"]));
    for (const r of answer.results) {
      if (r.outcome === "refused") throw new Error("refused");
      expect(r.json).toBe(JSON.stringify(r.coupon));
      expect(Object.keys(JSON.parse(r.json))).toEqual([
        "id",
        "eventId",
        "userId",
        "status",
        "issuedAt",
        "expiresAt",
        "redeemedAt",
        "orderId",
        "hold",
      ]);
    }
    const holder = await stub.claim("j1");
    if (holder.outcome !== "existing") throw new Error(holder.outcome);
    expect(holder.json).toBe(JSON.stringify(couponOf(answer.results[0])));
  });

  it("refusals decided in memory write nothing: sold out, paused, not started", async () => {
    const stub = await openEvent(1);
    expect(decided(await stub.claimBatch(["holder"])).results[0]?.outcome).toBe("issued");
    await runInDurableObject(stub, (o: CouponEvent, state) => {
      const before = writes(state);
      const soldOut = o.claimBatch(["n1", "n2", "holder", "n3"]);
      expect(decided(soldOut).results.map((r) => r.outcome)).toEqual([
        "refused",
        "refused",
        "existing",
        "refused",
      ]);
      expect(writes(state)).toEqual(before);
    });

    const paused = await openEvent(10);
    await paused.setPaused(true);
    await runInDurableObject(paused, (o: CouponEvent, state) => {
      const before = writes(state);
      const answer = decided(o.claimBatch(["p1", "p2", "p1"]));
      expect(answer.results.map((r) => r.outcome === "refused" && r.refusal.slug)).toEqual([
        "paused",
        "paused",
        "paused",
      ]);
      expect(writes(state)).toEqual(before);
    });

    const later = await openEvent(10, {
      startsAt: Date.now() + 3_600_000,
      waves: [{ at: Date.now() + 3_600_000, quantity: 10 }],
    });
    await runInDurableObject(later, (o: CouponEvent, state) => {
      const before = writes(state);
      const [refused] = decided(o.claimBatch(["early"])).results;
      expect(refused).toMatchObject({ outcome: "refused", refusal: { slug: "not-started" } });
      expect(writes(state)).toEqual(before);
      // An issue does write: the counter above sees writes at all.
      o.setPaused(true);
      expect(writes(state).changes).toBeGreaterThan(before.changes);
    });
  });

  it("an object waking up to refusals writes nothing, its start included", async () => {
    const stub = await openEvent(1);
    expect(decided(await stub.claimBatch(["holder"])).results[0]?.outcome).toBe("issued");
    await evictDurableObject(stub);
    await runInDurableObject(stub, (o: CouponEvent, state) => {
      // A fresh connection: every change counted since the object started.
      expect(writes(state).changes).toBe(0);
      expect(decided(o.claimBatch(["late", "holder"])).results.map((r) => r.outcome)).toEqual([
        "refused",
        "existing",
      ]);
      expect(writes(state).changes).toBe(0);
    });
  });

  it("claim() is a batch of one, and every user reaching the object counts", async () => {
    const stub = await openEvent(1);
    const first = await stub.claim("solo");
    expect(first).toMatchObject({ outcome: "issued", counters: { issued: 1 } });
    const again = await stub.claim("solo", { wantHolders: true });
    expect(again).toMatchObject({ outcome: "existing", counters: { issued: 1 } });
    if (first.outcome !== "issued" || again.outcome !== "existing") throw new Error("outcomes");
    expect(again.coupon).toEqual(first.coupon);
    expect(again.holders?.kind).toBe("fingerprints");
    expect(await stub.claim("late")).toMatchObject({
      outcome: "refused",
      refusal: { slug: "sold-out" },
    });
    await stub.claimBatch(["x", "y", "x"]);
    expect(await runInDurableObject(stub, (o: CouponEvent) => o.claimCalls)).toBe(6);
  });

  it("an unknown event answers unknown-event; a batch too big or with a bad user id is refused whole", async () => {
    const ghost = eventStub(uniqueId("ghost"));
    expect(await ghost.claimBatch(["a"])).toEqual({ outcome: "unknown-event" });

    const stub = await openEvent(1_000);
    await runInDurableObject(stub, (o: CouponEvent) => {
      const tooMany = Array.from({ length: MAX_CLAIM_BATCH + 1 }, (_, i) => `big-${i}`);
      expect(() => o.claimBatch(tooMany)).toThrow(TypeError);
      expect(() => o.claimBatch(["fine", ""])).toThrow(TypeError);
      expect(() => o.claimBatch(["fine", "x".repeat(129)])).toThrow(TypeError);
      expect(() => o.claimBatch(["fine", "ctl\u0000"])).toThrow(TypeError);
      expect(o.claimOf("fine")).toBeNull();
      const full = Array.from({ length: MAX_CLAIM_BATCH }, (_, i) => `max-${i}`);
      const answer = decided(o.claimBatch(full));
      expect(answer.results.every((r) => r.outcome === "issued")).toBe(true);
      expect(answer.counters.issued).toBe(MAX_CLAIM_BATCH);
    });
  });
});
