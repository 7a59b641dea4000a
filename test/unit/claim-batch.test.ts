import { describe, expect, it } from "vitest";
import { issuedRow, planClaims } from "../../domain/claim-batch.ts";
import type { EventDefinition } from "../../domain/ledger.ts";
import type { ClaimDecision } from "../../domain/views.ts";

const NOW = Date.parse("2026-12-01T10:00:00Z");

function event(waves: { at: number; quantity: number }[]): EventDefinition {
  return {
    id: "evt",
    name: "Plan",
    totalStock: waves.reduce((n, w) => n + w.quantity, 0),
    startsAt: NOW - 60_000,
    endsAt: null,
    couponExpiresAt: null,
    waves,
  };
}

function ids() {
  let n = 0;
  return () => `cpn_${String(++n).padStart(22, "0")}.evt`;
}

const outcomes = (results: ClaimDecision[]) =>
  results.map((r) => (r.outcome === "refused" ? r.refusal.slug : r.outcome));

describe("planClaims", () => {
  it("decides in arrival order: stock running out mid-batch refuses later newcomers only", () => {
    const def = event([{ at: NOW - 60_000, quantity: 2 }]);
    const holder = issuedRow(def, "old", "cpn_0000000000000000000000.evt", NOW - 1_000);
    const plan = planClaims(
      def,
      { issued: 1, paused: false },
      NOW,
      ["a", "b", "old", "a", "c"],
      new Map([["old", holder]]),
      ids(),
    );
    expect(outcomes(plan.results)).toEqual([
      "issued",
      "sold-out",
      "existing",
      "existing",
      "sold-out",
    ]);
    expect(plan.fresh.map((r) => r.user_id)).toEqual(["a"]);
    const [a1, , old, a2] = plan.results;
    if (a1?.outcome !== "issued" || a2?.outcome !== "existing" || old?.outcome !== "existing")
      throw new Error("outcomes");
    expect(a2.coupon).toEqual(a1.coupon);
    expect(a2.json).toBe(a1.json);
    expect(old.coupon.id).toBe(holder.coupon_id);
  });

  it("a wave's stock gone mid-batch: awaiting-release for the rest, with when to retry", () => {
    const def = event([
      { at: NOW - 60_000, quantity: 1 },
      { at: NOW + 30_000, quantity: 5 },
    ]);
    const plan = planClaims(def, { issued: 0, paused: false }, NOW, ["a", "b"], new Map(), ids());
    expect(plan.results[1]).toEqual({
      outcome: "refused",
      refusal: { slug: "awaiting-release", retryAfter: 30 },
    });
  });

  it("paused: everyone refused but holders, nothing to write", () => {
    const def = event([{ at: NOW - 60_000, quantity: 5 }]);
    const holder = issuedRow(def, "h", "cpn_0000000000000000000009.evt", NOW - 1_000);
    const plan = planClaims(
      def,
      { issued: 1, paused: true },
      NOW,
      ["x", "h", "x"],
      new Map([["h", holder]]),
      ids(),
    );
    expect(outcomes(plan.results)).toEqual(["paused", "existing", "paused"]);
    expect(plan.fresh).toEqual([]);
  });

  it("each coupon's JSON is JSON.stringify of the coupon, keys in the API's order", () => {
    const def = event([{ at: NOW - 60_000, quantity: 5 }]);
    const [issued] = planClaims(
      def,
      { issued: 0, paused: false },
      NOW,
      ["a"],
      new Map(),
      ids(),
    ).results;
    if (issued?.outcome !== "issued") throw new Error("not issued");
    expect(issued.json).toBe(
      `{"id":"cpn_0000000000000000000001.evt","eventId":"evt","userId":"a","status":"issued","issuedAt":"2026-12-01T10:00:00.000Z","expiresAt":null,"redeemedAt":null,"orderId":null,"hold":null}`,
    );
  });
});
