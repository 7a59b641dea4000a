/**
 * Claims reach the event's object in batches (src/lib/claim-batcher.ts): one call carries every
 * claim that arrived while the previous calls were out. Each user still gets exactly their own
 * answer, and a batch that fails fails only its own claims, with 503, and a retry is idempotent.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ClaimAnswer } from "../../domain/views.ts";
import { servicesFor } from "../../platform/services.ts";
import { EventClient } from "../../src/lib/event-client.ts";
import { ProblemError } from "../../src/problems.ts";
import { claim, createEvent, eventStub, getEvent, problemOf } from "./helpers.ts";

interface Coupon {
  id: string;
  userId: string;
}

/** The object's count of users whose claims reached it, and of the calls that carried them. */
async function reached(eventId: string): Promise<{ users: number; calls: number }> {
  return runInDurableObject(eventStub(eventId), (o) => ({
    users: o.claimCalls,
    calls: o.claimBatchCalls,
  }));
}

describe("claims in batches", () => {
  it("500 users at once against 300 coupons: exactly 300 issued, one each, in fewer calls than claims", async () => {
    const event = await createEvent({ totalStock: 300 });
    const users = Array.from({ length: 500 }, (_, i) => `batch-user-${i}`);
    const responses = await Promise.all(users.map((u) => claim(event.id, u)));

    const issued: Coupon[] = [];
    for (const res of responses) {
      if (res.status === 201) issued.push(await res.json<Coupon>());
      else expect((await problemOf(res)).type).toBe("/problems/sold-out");
    }
    expect(issued).toHaveLength(300);
    expect(new Set(issued.map((c) => c.userId)).size).toBe(300);
    expect(new Set(issued.map((c) => c.id)).size).toBe(300);
    expect(await getEvent(event.id)).toMatchObject({ issued: 300, remaining: 0 });
    const { users: reachedUsers, calls } = await reached(event.id);
    // Every claim the edge could not refuse reached the object, most of them sharing a call.
    expect(reachedUsers).toBeGreaterThanOrEqual(300);
    expect(calls).toBeLessThan(reachedUsers);
  });

  it("250 users twice each, at once: each gets one coupon, 201 once and the same coupon with 200 once", async () => {
    const event = await createEvent({ totalStock: 300 });
    const users = Array.from({ length: 250 }, (_, i) => `twice-user-${i}`);
    const twice = [...users, ...users].sort();
    const responses = await Promise.all(twice.map((u) => claim(event.id, u)));

    const byUser = new Map<string, { status: number; id: string }[]>();
    for (const [i, res] of responses.entries()) {
      const coupon = await res.json<Coupon>();
      const user = twice[i] as string;
      expect(coupon.userId).toBe(user);
      byUser.set(user, [...(byUser.get(user) ?? []), { status: res.status, id: coupon.id }]);
    }
    for (const answers of byUser.values()) {
      expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
      expect(answers[0]?.id).toBe(answers[1]?.id);
    }
    expect(await getEvent(event.id)).toMatchObject({ issued: 250 });
  });
});

/**
 * The event client with the objects behind a seam that can fail (src/lib/event-objects.ts: the
 * `OBJECTS` binding is how a front reaches the objects' process), forwarding to the real objects.
 */
function failingClient(fail: { claimBatch: number; afterDeciding: boolean }) {
  let calls = 0;
  const objects = {
    event(eventId: string, method: string, args: unknown[]) {
      const stub = eventStub(eventId) as unknown as Record<string, (...a: unknown[]) => unknown>;
      if (method !== "claimBatch" || fail.claimBatch <= 0) return stub[method]?.(...args);
      fail.claimBatch -= 1;
      calls += 1;
      const lost = new Error("Network connection lost.");
      // After deciding: the object issued the coupons, but the answer never came back.
      return fail.afterDeciding
        ? Promise.resolve(stub[method]?.(...args)).then(() => Promise.reject(lost))
        : Promise.reject(lost);
    },
    directory(shard: string, method: string, args: unknown[]) {
      const ns = env.EVENT_DIRECTORY;
      const stub = ns.get(ns.idFromName(shard)) as unknown as Record<
        string,
        (...a: unknown[]) => unknown
      >;
      return stub[method]?.(...args);
    },
  };
  const client = new EventClient({ ...env, OBJECTS: objects } as unknown as Env, servicesFor(env));
  return { client, failedCalls: () => calls };
}

async function outcome(answer: Promise<ClaimAnswer>): Promise<string> {
  try {
    const a = await answer;
    return a.outcome;
  } catch (err) {
    return err instanceof ProblemError ? `${err.status} ${err.slug}` : String(err);
  }
}

describe("a batch whose call fails", () => {
  for (const afterDeciding of [false, true]) {
    it(`answers 503 unavailable to each of its claims, and a retry issues nothing twice (${afterDeciding ? "the object had decided" : "the call never arrived"})`, async () => {
      const event = await createEvent({ totalStock: 1_000 });
      const { client, failedCalls } = failingClient({ claimBatch: 1, afterDeciding });
      const users = Array.from({ length: 40 }, (_, i) => `fail-user-${afterDeciding}-${i}`);

      const first = await Promise.all(users.map((u) => outcome(client.claim(event.id, u))));
      expect(failedCalls()).toBe(1);
      // Only the claims of the failed call are refused; they say so with 503.
      const unavailable = first.filter((o) => o === "503 unavailable").length;
      expect(unavailable).toBeGreaterThan(0);
      expect(first.filter((o) => o !== "503 unavailable").every((o) => o === "issued")).toBe(true);

      const again = await Promise.all(users.map((u) => outcome(client.claim(event.id, u))));
      expect(again.every((o) => o === "issued" || o === "existing")).toBe(true);
      // Claims the object had already decided come back as the same coupon, not a second one.
      expect(again.filter((o) => o === "existing")).toHaveLength(
        first.filter((o) => o === "issued").length + (afterDeciding ? unavailable : 0),
      );
      const stats = await eventStub(event.id).stats();
      expect(stats?.claims.issued).toBe(users.length);
    });
  }
});
