import type { ClaimBatchAnswer, ClaimDecision } from "../../domain/views.ts";
import { MAX_CLAIM_BATCH } from "../../domain/views.ts";
import type { WaitUntil } from "./wait-until.ts";

/** One claim's answer from its batch, or why the batch failed. */
export type BatchedClaim =
  | { outcome: "decided"; decision: ClaimDecision }
  | { outcome: "unknown-event" }
  | { outcome: "failed"; error: unknown };

/** Sends one batch (the caller adds the deadline and the retry) and says whether it asked for holders. */
export type SendBatch = (userIds: string[]) => Promise<ClaimBatchAnswer>;

interface Slot {
  userId: string;
  /** Wakes the waiting request: with its answer, or to lead the next batch itself. */
  wake: ((w: BatchedClaim | "lead") => void) | null;
  /** An answer or a lead that arrived before the request began to wait. */
  early: BatchedClaim | "lead" | null;
}

interface Queue {
  waiting: Slot[];
  inFlight: number;
}

/** Calls per event and isolate under way at once: one being decided, one on the wire. */
const MAX_IN_FLIGHT = 2;

/**
 * Claims of one event from this isolate, decided in batches. Idle, a claim goes out at once, alone
 * (no added delay). While MAX_IN_FLIGHT calls are out, arriving claims wait in line, and the next
 * call carries up to MAX_CLAIM_BATCH of them in arrival order.
 *
 * Every call is made by a request in its own context: the request whose batch comes back wakes
 * the first one waiting, which leads the next batch. Requests never share an I/O object, and no
 * call outlives the request that made it (workerd cancels a request's I/O when it ends); its
 * `waitUntil` keeps a batch alive when its leader's client goes away. Each waiting request keeps
 * its own deadline.
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
    const slot: Slot = { userId, wake: null, early: null };
    queue.waiting.push(slot);
    const deadline = Date.now() + opts.deadlineMs;
    // Past the deadline a claim still in line leaves it, at once, so no batch carries a claim
    // nobody waits for and no lead is handed to it.
    const leave = () => {
      const at = queue.waiting.indexOf(slot);
      if (at >= 0) queue.waiting.splice(at, 1);
    };
    let next = queue.inFlight < MAX_IN_FLIGHT ? "lead" : await wait(slot, deadline, leave);
    while (next === "lead") {
      this.#lead(key, queue, send, opts.waitUntil);
      next = await wait(slot, deadline, leave);
    }
    return next;
  }

  /** Sends the next batch from this request; settles its claims, then hands the lead on. */
  #lead(key: string, queue: Queue, send: SendBatch, waitUntil: WaitUntil | undefined): void {
    const batch = queue.waiting.splice(0, MAX_CLAIM_BATCH);
    if (batch.length === 0) return;
    queue.inFlight += 1;
    const run = send(batch.map((s) => s.userId)).then(
      (answer) => {
        if (answer.outcome === "unknown-event") {
          for (const slot of batch) settle(slot, { outcome: "unknown-event" });
          return;
        }
        batch.forEach((slot, i) => {
          const decision = answer.results[i];
          settle(
            slot,
            decision
              ? { outcome: "decided", decision }
              : { outcome: "failed", error: new Error("the batch's answer is short") },
          );
        });
      },
      (error: unknown) => {
        for (const slot of batch) settle(slot, { outcome: "failed", error });
      },
    );
    const handedOn = run.finally(() => {
      queue.inFlight -= 1;
      const first = queue.waiting[0];
      if (first) settle(first, "lead");
      else if (queue.inFlight === 0 && queue.waiting.length === 0) this.#queues.delete(key);
    });
    waitUntil?.(handedOn);
  }

  #queue(key: string): Queue {
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = { waiting: [], inFlight: 0 };
      this.#queues.set(key, queue);
    }
    return queue;
  }
}

/** What a claim that waited past its deadline answers (the caller turns it into a 503). */
export const TIMED_OUT = new Error("the claim waited past its deadline");

function settle(slot: Slot, w: BatchedClaim | "lead"): void {
  const wake = slot.wake;
  slot.wake = null;
  if (wake) wake(w);
  else slot.early = w;
}

/** This request's own promise, settled by whoever holds the slot, and its own timer. */
function wait(slot: Slot, deadline: number, leave: () => void): Promise<BatchedClaim | "lead"> {
  const early = slot.early;
  if (early) {
    slot.early = null;
    return Promise.resolve(early);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => {
        slot.wake = null;
        leave();
        resolve({ outcome: "failed", error: TIMED_OUT });
      },
      Math.max(0, deadline - Date.now()),
    );
    slot.wake = (w) => {
      clearTimeout(timer);
      resolve(w);
    };
  });
}
