import type { ClaimBatchAnswer, ClaimDecision } from "../../domain/views.ts";
import { MAX_CLAIM_BATCH } from "../../domain/views.ts";
import type { WaitUntil } from "./wait-until.ts";

/** One claim's answer from its batch, or why the batch failed. */
export type BatchedClaim =
  | { outcome: "decided"; decision: ClaimDecision }
  | { outcome: "unknown-event" }
  | { outcome: "failed"; error: unknown };

/** Sends one batch; the caller adds the deadline and the retry. */
export type SendBatch = (userIds: string[]) => Promise<ClaimBatchAnswer>;

interface Slot {
  userId: string;
  /** Its place in the event's line (claims queued before it, ever). */
  seq: number;
  /** Written by the leader; read by the waiting request on its own timer. */
  result: BatchedClaim | null;
}

interface Queue {
  waiting: Slot[];
  /** Claims ever queued, and ever taken into a batch (their difference is the line). */
  queued: number;
  taken: number;
  /** A batch's round trip, smoothed: how long a waiting request sleeps between looks. */
  roundTripMs: number;
  /** A request is sending this event's batches (it has its own `waitUntil` to do so). */
  leading: boolean;
  /** When the leader last started a batch: a leader silent for long is taken as gone. */
  beat: number;
}

/** Calls per event and isolate under way at once: one being decided, one on the wire. */
const MAX_IN_FLIGHT = 2;
/** A leader leads this long at most, then leaves it to a waiting request (workerd bounds how long
 * a request's `waitUntil` may run after its answer). */
const MAX_LEAD_MS = 10_000;
/** The longest a waiting request sleeps between two looks at its slot. */
const MAX_SLEEP_MS = 20;

/**
 * Claims of one event from this isolate, decided in batches. Idle, a claim goes out at once, alone
 * (no added delay). While MAX_IN_FLIGHT calls are out, arriving claims wait in line, and the next
 * call carries up to MAX_CLAIM_BATCH of them in arrival order.
 *
 * One request leads: it sends every batch from its own context (its `waitUntil` keeps them alive
 * after its own answer), so every call to the object is I/O of the request that made it, and
 * writes each claim's answer into its slot. No request awaits a promise another request settles
 * (workerd may run that continuation in the settling request's context: "Cannot perform I/O on
 * behalf of a different request", "Promise will never complete"): each waiting request looks at
 * its slot on its own timers, sleeping about as long as the batches ahead of it should take. When
 * nobody leads (the leader reached MAX_LEAD_MS or went away), a waiting request notices on one of
 * those looks and leads. Each keeps its own deadline.
 */
export class ClaimBatcher {
  readonly #queues = new Map<string, Queue>();

  async claim(
    key: string,
    userId: string,
    send: SendBatch,
    opts: { deadlineMs: number; waitUntil?: WaitUntil },
  ): Promise<BatchedClaim> {
    const queue = this.#queue(key);
    const slot: Slot = { userId, seq: queue.queued++, result: null };
    queue.waiting.push(slot);
    if (this.#needsLeader(queue)) this.#lead(key, queue, send, opts.waitUntil);
    const deadline = Date.now() + opts.deadlineMs;
    while (slot.result === null) {
      const now = Date.now();
      if (now >= deadline) {
        // Still in line: leave it, so no batch carries a claim nobody waits for.
        const at = queue.waiting.indexOf(slot);
        if (at >= 0) queue.waiting.splice(at, 1);
        return { outcome: "failed", error: TIMED_OUT };
      }
      await sleep(Math.min(deadline - now, sleepFor(queue, slot)));
      if (slot.result === null && this.#needsLeader(queue)) {
        this.#lead(key, queue, send, opts.waitUntil);
      }
    }
    return slot.result;
  }

  #needsLeader(queue: Queue): boolean {
    return !queue.leading || Date.now() - queue.beat > MAX_LEAD_MS + 1_000;
  }

  /** Sends batches from this request until the line is empty (or it has led long enough). */
  #lead(key: string, queue: Queue, send: SendBatch, waitUntil: WaitUntil | undefined): void {
    queue.leading = true;
    queue.beat = Date.now();
    const started = queue.beat;
    const run = async () => {
      const inFlight = new Set<Promise<void>>();
      while (queue.waiting.length > 0 || inFlight.size > 0) {
        while (
          inFlight.size < MAX_IN_FLIGHT &&
          queue.waiting.length > 0 &&
          Date.now() - started < MAX_LEAD_MS
        ) {
          const sentAt = Date.now();
          queue.beat = sentAt;
          const batch = queue.waiting.splice(0, MAX_CLAIM_BATCH);
          queue.taken += batch.length;
          const call: Promise<void> = sendBatch(batch, send).finally(() => {
            inFlight.delete(call);
            queue.roundTripMs = 0.8 * queue.roundTripMs + 0.2 * (Date.now() - sentAt);
          });
          inFlight.add(call);
        }
        if (inFlight.size === 0) break;
        await Promise.race(inFlight);
      }
    };
    const done = run().finally(() => {
      queue.leading = false;
      if (queue.waiting.length === 0) this.#queues.delete(key);
    });
    waitUntil?.(done);
  }

  #queue(key: string): Queue {
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = { waiting: [], queued: 0, taken: 0, roundTripMs: 2, leading: false, beat: 0 };
      this.#queues.set(key, queue);
    }
    return queue;
  }
}

/** What a claim that waited past its deadline answers (the caller turns it into a 503). */
export const TIMED_OUT = new Error("the claim waited past its deadline");

/** One call for `batch`; every claim in it gets its own answer (or the call's failure). */
async function sendBatch(batch: Slot[], send: SendBatch): Promise<void> {
  let answers: BatchedClaim[];
  try {
    const answer = await send(batch.map((s) => s.userId));
    answers =
      answer.outcome === "unknown-event"
        ? batch.map(() => ({ outcome: "unknown-event" }))
        : batch.map((_, i) => {
            const decision = answer.results[i];
            return decision
              ? { outcome: "decided", decision }
              : { outcome: "failed", error: new Error("the batch's answer is short") };
          });
  } catch (error) {
    answers = batch.map(() => ({ outcome: "failed", error }));
  }
  batch.forEach((slot, i) => {
    slot.result = answers[i] ?? { outcome: "failed", error: new Error("no answer") };
  });
}

/**
 * How long a waiting request sleeps before its next look: about as long as the batches ahead of
 * it should take (each round trip serves MAX_IN_FLIGHT batches), at least 1 ms and at most
 * MAX_SLEEP_MS, so a crowd of waiters costs a few timer wakes each, not a spin.
 */
function sleepFor(queue: Queue, slot: Slot): number {
  const ahead = Math.max(0, slot.seq - queue.taken);
  const rounds = Math.floor(ahead / (MAX_CLAIM_BATCH * MAX_IN_FLIGHT)) + 0.5;
  return Math.max(1, Math.min(MAX_SLEEP_MS, rounds * queue.roundTripMs));
}

const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms));
