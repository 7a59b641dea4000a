/**
 * The claim batcher alone, with the object faked at its interface (`SendBatch`): when batches
 * form, how big they get, in which order claims go, and what a failed call answers.
 */
import { describe, expect, it } from "vitest";
import type { ClaimBatchAnswer, ClaimDecision } from "../../domain/views.ts";
import { MAX_CLAIM_BATCH } from "../../domain/views.ts";
import { ClaimBatcher, TIMED_OUT } from "../../src/lib/claim-batcher.ts";
import { asUnavailable } from "../../src/lib/object-call.ts";

const COUNTERS = { issued: 0, paused: false, version: 0, asOf: 0 };

function issued(userId: string): ClaimDecision {
  const json = JSON.stringify({ id: `cpn_${userId}` });
  return { outcome: "issued", coupon: JSON.parse(json), json };
}

/** A fake object: records each call's users; answers after `gate` opens (or fails). */
function fakeObject() {
  const calls: string[][] = [];
  let open: () => void = () => undefined;
  let gate = new Promise<void>((r) => {
    open = r;
  });
  const failNext: Error[] = [];
  const send = async (userIds: string[]): Promise<ClaimBatchAnswer> => {
    calls.push(userIds);
    await gate;
    const error = failNext.shift();
    if (error) throw error;
    return { outcome: "decided", results: userIds.map(issued), counters: COUNTERS };
  };
  return {
    calls,
    send,
    failNext,
    release() {
      open();
      gate = new Promise<void>((r) => {
        open = r;
      });
    },
    openForGood() {
      gate = Promise.resolve();
      open();
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("the claim batcher", () => {
  it("sends an idle claim at once, alone", async () => {
    const object = fakeObject();
    object.openForGood();
    const answer = await new ClaimBatcher().claim("e", "alice", object.send, { deadlineMs: 1_000 });
    expect(object.calls).toEqual([["alice"]]);
    expect(answer).toMatchObject({ outcome: "decided", decision: { outcome: "issued" } });
  });

  it("while calls are out, later claims wait and go together, in arrival order", async () => {
    const object = fakeObject();
    const batcher = new ClaimBatcher();
    const claim = (u: string) => batcher.claim("e", u, object.send, { deadlineMs: 5_000 });
    const answers = [claim("u0"), claim("u1")];
    await settle();
    // Two calls out (one being decided, one on the wire); the rest wait for them.
    expect(object.calls).toEqual([["u0"], ["u1"]]);
    for (let i = 2; i < 10; i++) answers.push(claim(`u${i}`));
    await settle();
    expect(object.calls).toHaveLength(2);
    object.openForGood();
    const all = await Promise.all(answers);
    expect(object.calls.slice(2).flat()).toEqual(["u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"]);
    expect(object.calls.length).toBeLessThan(10);
    // Each claim gets the answer meant for its own user.
    all.forEach((a, i) => {
      expect(a.outcome === "decided" && a.decision.outcome === "issued" && a.decision.json).toBe(
        JSON.stringify({ id: `cpn_u${i}` }),
      );
    });
  });

  it("never puts more than MAX_CLAIM_BATCH claims in one call", async () => {
    const object = fakeObject();
    const batcher = new ClaimBatcher();
    const n = MAX_CLAIM_BATCH * 3 + 5;
    const answers = Array.from({ length: n }, (_, i) =>
      batcher.claim("e", `u${i}`, object.send, { deadlineMs: 10_000 }),
    );
    object.openForGood();
    await Promise.all(answers);
    expect(Math.max(...object.calls.map((c) => c.length))).toBe(MAX_CLAIM_BATCH);
    expect(object.calls.flat()).toHaveLength(n);
  });

  it("a failed call fails exactly its own claims; the next call answers the rest", async () => {
    const object = fakeObject();
    const batcher = new ClaimBatcher();
    const claim = (u: string) => batcher.claim("e", u, object.send, { deadlineMs: 5_000 });
    const first = claim("lonely");
    await settle();
    const waiting = ["a", "b", "c"].map(claim);
    const lost = new Error("Network connection lost.");
    object.failNext.push(lost);
    object.openForGood();
    expect(await first).toEqual({ outcome: "failed", error: lost });
    for (const answer of await Promise.all(waiting)) {
      expect(answer).toMatchObject({ outcome: "decided" });
    }
  });

  it("a claim waiting past its deadline answers TIMED_OUT and is not sent afterwards", async () => {
    const object = fakeObject();
    const batcher = new ClaimBatcher();
    const claim = (u: string, deadlineMs: number) =>
      batcher.claim("e", u, object.send, { deadlineMs });
    const held = [claim("x", 5_000), claim("y", 5_000)];
    await settle();
    expect(await claim("impatient", 20)).toEqual({ outcome: "failed", error: TIMED_OUT });
    // The event client answers it as any call past its deadline: 503 unavailable, Retry-After 1.
    expect(asUnavailable(TIMED_OUT)).toMatchObject({
      slug: "unavailable",
      options: { retryAfter: 1 },
    });
    object.openForGood();
    await Promise.all(held);
    expect(object.calls.flat()).not.toContain("impatient");
  });

  it("keeps events apart: a busy event does not hold another's claims", async () => {
    const object = fakeObject();
    const batcher = new ClaimBatcher();
    void batcher.claim("busy", "b1", object.send, { deadlineMs: 5_000 });
    void batcher.claim("busy", "b2", object.send, { deadlineMs: 5_000 });
    await settle();
    const other = fakeObject();
    other.openForGood();
    const answer = await batcher.claim("quiet", "q", other.send, { deadlineMs: 1_000 });
    expect(answer).toMatchObject({ outcome: "decided" });
    expect(other.calls).toEqual([["q"]]);
    object.openForGood();
  });
});
