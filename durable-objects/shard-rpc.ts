import type { EventDefinition } from "../domain/ledger.ts";
import type { Grant, LeaseAnswer, LeaseRequest, ShareTotals } from "../domain/shards.ts";
import type { EventSnapshot, StatsView } from "../domain/views.ts";
import type { DeadLetter } from "./outbox.ts";

/**
 * What a sharded event's objects call on each other (docs/shards.md). CouponEvent implements
 * both sides; the lease code depends on these shapes, not on the class, so no module imports
 * the object back.
 */
export interface ShardRpc {
  joinEvent(def: EventDefinition, shard: number): boolean;
  setPaused(paused: boolean): Promise<EventSnapshot | null>;
  shareTotals(): ShareTotals | null;
  giveBack(grants: Grant[]): ShareTotals | null;
  stats(): StatsView | null;
  deadLetters(limit?: number): DeadLetter[] | null;
  requeueDeadLetters(): { requeued: number } | null;
}

export interface CoordinatorRpc {
  lease(req: LeaseRequest): Promise<LeaseAnswer>;
}

/** A stub of an object of the event, typed by what is called on it. */
export type ObjectStub<T> = DurableObjectStub<T & Rpc.DurableObjectBranded>;
