import type { ClaimBatchAnswer, ClaimDecision } from "../../domain/views.ts";
import { MAX_CLAIM_BATCH } from "../../domain/views.ts";
import { TimeoutError } from "../../platform/timeout.ts";
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
  /** When the batch carrying it went out (null while it waits in line). */
  sentAt: number | null;
  /** Written by the sender; read by the waiting request on its own timer. */
  result: BatchedClaim | null;
}

interface Queue {
  waiting: Slot[];
  /** Claims ever queued, and ever taken into a batch (their difference is the line). */
  queued: number;
  taken: number;
  /** Calls out now, and when the last one went out or came back. */
  inFlight: number;
  beat: number;
  /** A batch's round trip, smoothed: how long a waiting request sleeps between looks. */
  roundTripMs: number;
}

/** Calls per event and isolate under way at once: one being decided, one on the wire. */
const MAX_IN_FLIGHT = 2;
/**
 * A request sends the next batch when one of its own comes back, for this long at most, then
 * leaves it to the waiting requests (workerd bounds how long a request's `waitUntil` may run).
 */
const MAX_CHAIN_MS = 10_000;
/** Calls silent this long are taken as lost with their request (its I/O was cancelled). */
const LOST_AFTER_MS = 8_000;
/** The longest a waiting request sleeps between two looks at its slot. */
const MAX_SLEEP_MS = 50;

/**
 * Claims of one event from this isolate, decided in batches. Idle, a claim goes out at once, alone
 * (no added delay). While MAX_IN_FLIGHT calls are out, arriving claims wait in line, and the next
 * call carries up to MAX_CLAIM_BATCH of them in arrival order.
 *
 * A batch is sent by a request running in its own context: an arriving claim, a waiting claim
 * that wakes on its own timer, or the request whose batch just came back (its `waitUntil` keeps
 * it going after its own answer), so every call to the object is I/O of the request that made it.
 * The sender writes each claim's answer into its slot. No request awaits a promise another request
 * settles (workerd may run that continuation in the settling request's context: "Cannot perform
 * I/O on behalf of a different request", "Promise will never complete"): each waiting request
 * looks at its slot on its own timers, sleeping about as long as the batches ahead of it should
 * take. Each keeps its own deadline.
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
    const slot: Slot = { userId, seq: queue.queued++, sentAt: null, result: null };
    queue.waiting.push(slot);
    this.#pump(key, queue, send, opts.waitUntil, Date.now());
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
      if (slot.result === null) this.#pump(key, queue, send, opts.waitUntil, Date.now());
    }
    return slot.result;
  }

  /** Sends batches from the calling request while fewer than MAX_IN_FLIGHT calls are out. */
  #pump(
    key: string,
    queue: Queue,
    send: SendBatch,
    waitUntil: WaitUntil | undefined,
    chainStarted: number,
  ): void {
    if (queue.inFlight > 0 && Date.now() - queue.beat > LOST_AFTER_MS) queue.inFlight = 0;
    while (queue.inFlight < MAX_IN_FLIGHT && queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, MAX_CLAIM_BATCH);
      const sentAt = Date.now();
      for (const slot of batch) slot.sentAt = sentAt;
      queue.inFlight += 1;
      queue.taken += batch.length;
      queue.beat = sentAt;
      const call = sendBatch(batch, send).finally(() => {
        queue.inFlight = Math.max(0, queue.inFlight - 1);
        queue.beat = Date.now();
        queue.roundTripMs = 0.8 * queue.roundTripMs + 0.2 * (queue.beat - sentAt);
        // This request's call came back: it sends the next batch itself, for a while.
        if (queue.beat - chainStarted < MAX_CHAIN_MS) {
          this.#pump(key, queue, send, waitUntil, chainStarted);
        }
        if (queue.inFlight === 0 && queue.waiting.length === 0) this.#queues.delete(key);
      });
      waitUntil?.(call);
    }
  }

  #queue(key: string): Queue {
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = { waiting: [], queued: 0, taken: 0, inFlight: 0, beat: 0, roundTripMs: 2 };
      this.#queues.set(key, queue);
    }
    return queue;
  }
}

/**
 * What a claim that waited past its deadline answers: a TimeoutError, which the event client
 * turns into 503 `unavailable` like any other call past its deadline (object-call.ts).
 */
export const TIMED_OUT = new TimeoutError("the claim waited past its deadline");

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
 * How long a waiting request sleeps before its next look: once its batch is out, until about when
 * the batch should be back; in line, about as long as the batches ahead of it should take (each
 * round trip serves MAX_IN_FLIGHT batches). At least 1 ms and at most MAX_SLEEP_MS, so a crowd of
 * waiters costs one or two timer wakes each, not a spin.
 */
function sleepFor(queue: Queue, slot: Slot): number {
  let ms: number;
  if (slot.sentAt !== null) {
    ms = slot.sentAt + queue.roundTripMs - Date.now();
  } else {
    const ahead = Math.max(0, slot.seq - queue.taken);
    const rounds = Math.floor(ahead / (MAX_CLAIM_BATCH * MAX_IN_FLIGHT)) + 1;
    ms = rounds * queue.roundTripMs;
  }
  return Math.max(1, Math.min(MAX_SLEEP_MS, ms));
}

const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms));
