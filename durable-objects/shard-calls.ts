import type { EventDefinition } from "../domain/ledger.ts";
import { placementOf } from "../domain/placement.ts";
import { placedStub } from "../platform/object-placement.ts";
import type { LeaseShare } from "./lease-share.ts";
import type { CoordinatorRpc, ObjectStub } from "./shard-rpc.ts";

/**
 * A shard's batch gives up waiting for stock after this long (the Worker's call deadline is 3 s):
 * its users get a 503 and retry; what was issued before stays theirs.
 */
export const SHARE_DEADLINE_MS = 2_000;
/** Longest a claim waits for another claim's lease request before deciding again. */
const LEASE_WAIT_MS = 1_000;
/** A "retry" from the coordinator (stock on its way between shards): ask again this much later. */
export const RETRY_PAUSE_MS = 5;

/** The event's coordinator: its own object, named by the event id, where the event is placed. */
export function coordinatorOf(env: Env, def: EventDefinition): ObjectStub<CoordinatorRpc> {
  return placedStub(
    env.COUPON_EVENT,
    def.id,
    placementOf(def),
  ) as unknown as ObjectStub<CoordinatorRpc>;
}

/**
 * Waits, on this call's own timers (every 1, 2, 4 … 16 ms), until the shard's lease request under
 * way has ended: a call never awaits a promise another call settles (src/lib/poll-until.ts).
 */
export async function waitForLease(share: LeaseShare): Promise<void> {
  const started = Date.now();
  let pause = 1;
  while (share.leasing && Date.now() - started < LEASE_WAIT_MS) {
    await pauseFor(pause);
    pause = Math.min(pause * 2, 16);
  }
}

export function pauseFor(ms: number): Promise<void> {
  return new Promise((wake) => setTimeout(wake, ms));
}
