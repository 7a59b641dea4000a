import type { QueueStatus } from "../../domain/admission.ts";
import type { Clock } from "../../domain/clock.ts";
import type { CouponView } from "../../domain/coupon.ts";
import { shardOfCoupon } from "../../domain/coupon-id.ts";
import type { LifecycleAnswer } from "../../domain/coupon-lifecycle.ts";
import { directoryShard } from "../../domain/directory-shard.ts";
import type { EventDefinition } from "../../domain/ledger.ts";
import { type Placement, placementOf, samePlacement } from "../../domain/placement.ts";
import {
  couponObjectName,
  SHARD_BUSY,
  shardCount,
  shardName,
  shardOf,
} from "../../domain/shards.ts";
import {
  type ClaimAnswer,
  type ClaimBatchAnswer,
  type ClaimDecision,
  type DefineResult,
  type EventSnapshot,
  type EventView,
  eventView,
  type StatsView,
} from "../../domain/views.ts";
import type { PlatformServices } from "../../platform/services.ts";
import { readSnapshot } from "../../platform/snapshot-registry.ts";
import { withTimeout } from "../../platform/timeout.ts";
import { ProblemError } from "../problems.ts";
import { type BatchedClaim, ClaimBatcher } from "./claim-batcher.ts";
import { EdgeRefusals } from "./edge-refusals.ts";
import { type EventObjects, type EventStub, eventObjects } from "./event-objects.ts";
import { type Entry, EventSnapshots } from "./event-snapshots.ts";
import { asUnavailable, CALL_TIMEOUT_MS, callObject } from "./object-call.ts";
import { pollUntil } from "./poll-until.ts";
import { ShardHolders } from "./shard-holders.ts";
import type { WaitUntil } from "./wait-until.ts";
import { type JoinAnswer, RoomClient } from "./waiting-room-client.ts";

/** `GET /v1/events/{id}` answers from a snapshot at most this old (the contract allows 1 s). */
const FRESH_MS = 1_000;
const REDIS_TIMEOUT_MS = 250;
/** A read older than this (but still fresh) refreshes the snapshot behind the answer. */
const REFRESH_AFTER_MS = 500;

/** Test seam: the edge reads time from these clocks per event instead of Date.now(). */
export const edgeClocks = new Map<string, Clock>();
/** Test seam: calls to the objects of the events a test put here (at 0) are counted. */
export const edgeObjectCalls = new Map<string, number>();

/**
 * The Worker's side of an event: the one place routes go through instead of the raw stub. It
 * keeps a snapshot of each event per isolate (event-snapshots.ts), updated from every object
 * answer and from the snapshots the objects publish to Redis; answers reads from it and refuses,
 * without calling the object, claims the object would certainly refuse (edge-refusals.ts). It
 * creates no storage for an id nobody created, and turns a slow or overloaded object into a
 * quick 503.
 */
export class EventClient {
  readonly #services: Pick<PlatformServices, "redis">;
  readonly #objects: EventObjects;
  readonly #batcher = new ClaimBatcher();
  readonly #snapshots = new EventSnapshots();
  readonly #shardHolders = new ShardHolders();
  /** Loads under way, by key: a token, never their promise (see #load). */
  readonly #loading = new Map<string, object>();
  readonly #refusals = new EdgeRefusals((eventId, counts) =>
    this.#call(eventId, this.#placementOf(eventId), (o) => o.countRefusals(counts)),
  );

  readonly #room = new RoomClient((eventId, fn) =>
    this.#call(eventId, this.#placementOf(eventId), fn),
  );

  constructor(env: Env, services: Pick<PlatformServices, "redis">) {
    this.#services = services;
    this.#objects = eventObjects(env);
  }

  /**
   * The event as of at most FRESH_MS ago, or null when it does not exist. A busy event's snapshot
   * is refreshed behind an answer (`waitUntil`) before it gets too old, so reads rarely wait.
   */
  async read(eventId: string, waitUntil?: WaitUntil): Promise<EventView | null> {
    const now = this.#now(eventId);
    let entry: Entry | null | undefined = this.#snapshots.use(eventId);
    if (!entry && this.#snapshots.isUnknown(eventId, now)) return null;
    if (!entry || !isFresh(entry, now)) {
      entry = await this.#load(eventId, { fresh: true });
    } else {
      this.#refreshBehind(eventId, entry, now, waitUntil);
    }
    return entry ? eventView(entry.snapshot.def, entry.snapshot, now) : null;
  }

  /** Refreshes a snapshot getting old behind the answer (one refresh at a time per isolate). */
  #refreshBehind(eventId: string, entry: Entry, now: number, waitUntil?: WaitUntil): void {
    if (!waitUntil || entry.refreshing || now - entry.snapshot.asOf <= REFRESH_AFTER_MS) return;
    entry.refreshing = true;
    waitUntil(
      this.#load(eventId, { fresh: true })
        .catch(() => undefined)
        .finally(() => {
          entry.refreshing = false;
        }),
    );
  }

  /**
   * Joins the event's waiting room, answered in this isolate (waiting-room-client.ts). Null: no
   * such event; "no-room": the event has no waiting room.
   */
  async join(
    eventId: string,
    userId: string,
    opts: {
      presented: { ticket: string; joinedAt: number } | null;
      sign: (joinedAt: number) => Promise<string>;
      waitUntil?: WaitUntil;
    },
  ): Promise<JoinAnswer | "no-room" | null> {
    const entry = await this.#known(eventId);
    if (!entry) return null;
    if (!entry.snapshot.def.queue) return "no-room";
    const now = this.#now(eventId);
    this.#refreshBehind(eventId, entry, now, opts.waitUntil);
    return this.#room.join(eventId, entry, userId, { ...opts, now });
  }

  /** A ticket holder's status, from this isolate's snapshot (refreshed behind the answer). */
  async queueStatus(
    eventId: string,
    userId: string,
    waitUntil?: WaitUntil,
  ): Promise<{ status: QueueStatus; retryAfter: number | null } | "no-room" | null> {
    const entry = await this.#known(eventId);
    if (!entry) return null;
    if (!entry.snapshot.def.queue || !entry.snapshot.room) return "no-room";
    const now = this.#now(eventId);
    this.#refreshBehind(eventId, entry, now, waitUntil);
    return this.#room.status(eventId, entry, userId, now);
  }

  /**
   * A claim: refused here when the snapshot makes the object's answer certain, else decided by
   * the object in a batch with the other claims this isolate has for the event (claim-batcher.ts).
   * A batch that fails or times out answers 503 to each of its claims; a retry is idempotent.
   */
  async claim(
    eventId: string,
    userId: string,
    waitUntil?: WaitUntil,
    /** On an event with a waiting room: the claim carries this user's valid ticket. */
    hasTicket = false,
  ): Promise<ClaimAnswer> {
    const entry = await this.#known(eventId);
    if (!entry) return { outcome: "unknown-event" };
    const snapshot = entry.snapshot;
    const now = this.#now(eventId);
    const shards = shardCount(snapshot.def);
    if (shards > 1) return this.#claimSharded(eventId, entry, userId, shards, waitUntil);
    const refusal = this.#refusals.refuse(eventId, entry, userId, now, waitUntil);
    if (refusal) return { outcome: "refused", refusal, counters: snapshot };
    if (snapshot.def.queue) {
      const queued = await this.#room.gate(eventId, entry, userId, hasTicket, now);
      if (queued) {
        this.#refusals.count(eventId, "queued", waitUntil);
        return { outcome: "refused", refusal: queued, counters: snapshot };
      }
    }
    const batched = await this.#batcher.claim(
      eventId,
      userId,
      (userIds) => this.#claimBatch(eventId, entry, userIds),
      { deadlineMs: CALL_TIMEOUT_MS * 2, waitUntil },
    );
    return this.#claimAnswer(eventId, entry, batched);
  }

  /**
   * A sharded event's claim (docs/shards.md): decided by the user's shard, in batches per shard;
   * refused here only from the event's snapshot and that shard's holders.
   */
  async #claimSharded(
    eventId: string,
    entry: Entry,
    userId: string,
    shards: number,
    waitUntil?: WaitUntil,
  ): Promise<ClaimAnswer> {
    const name = shardName(eventId, shardOf(eventId, userId, shards));
    const holders = this.#shardHolders.get(name);
    const now = this.#now(eventId);
    const refusal = this.#refusals.refuse(eventId, entry, userId, now, waitUntil, holders);
    if (refusal) return { outcome: "refused", refusal, counters: entry.snapshot };
    const batched = await this.#batcher.claim(
      name,
      userId,
      (userIds) => this.#claimShare(name, placed(entry), userIds),
      { deadlineMs: CALL_TIMEOUT_MS * 2, waitUntil },
    );
    if (batched.outcome === "decided") this.#soldOutSeen(eventId, batched.decision);
    return this.#claimAnswer(eventId, entry, batched);
  }

  /**
   * A shard says sold-out only once the coordinator found every coupon issued (and no wave to
   * come): the snapshot may say so too, so that the edge refuses the next newcomers itself.
   */
  #soldOutSeen(eventId: string, decision: ClaimDecision): void {
    if (decision.outcome !== "refused" || decision.refusal.slug !== "sold-out") return;
    const current = this.#snapshots.peek(eventId)?.snapshot;
    if (!current || current.issued >= current.def.totalStock) return;
    const more = current.def.totalStock - current.issued;
    this.#snapshots.update(eventId, {
      issued: current.def.totalStock,
      paused: current.paused,
      version: current.version + more,
      asOf: current.asOf,
    });
  }

  #claimAnswer(eventId: string, entry: Entry, batched: BatchedClaim): ClaimAnswer {
    switch (batched.outcome) {
      case "unknown-event":
        return batched;
      case "failed":
        throw asUnavailable(batched.error);
      default: {
        const current = this.#snapshots.peek(eventId)?.snapshot ?? entry.snapshot;
        return { ...batched.decision, counters: current };
      }
    }
  }

  /**
   * One call for a shard's batch. A shard's counters are its own, not the event's, so the
   * snapshot does not follow them (the coordinator's does); its holders are kept per shard.
   */
  async #claimShare(
    name: string,
    placement: Placement,
    userIds: string[],
  ): Promise<ClaimBatchAnswer> {
    const wantHolders = this.#shardHolders.startAsking(name);
    let answer: ClaimBatchAnswer | undefined;
    try {
      answer = await this.#call<ClaimBatchAnswer>(name, placement, (o) =>
        o.claimShare(userIds, { wantHolders }),
      );
      return answer;
    } catch (err) {
      if (!(err instanceof Error && err.message.includes(SHARD_BUSY))) throw err;
      throw new ProblemError("unavailable", {
        detail: "The event is busy; try again.",
        retryAfter: 1,
      });
    } finally {
      if (wantHolders) {
        this.#shardHolders.doneAsking(
          name,
          answer?.outcome === "decided" ? answer.holders : undefined,
        );
      }
    }
  }

  /** One call for a batch; the snapshot follows its counters (and the holders, once final). */
  async #claimBatch(eventId: string, entry: Entry, userIds: string[]): Promise<ClaimBatchAnswer> {
    const wantHolders = !entry.holders && !entry.askingHolders;
    if (wantHolders) entry.askingHolders = true;
    try {
      const answer = await this.#call<ClaimBatchAnswer>(eventId, placed(entry), (o) =>
        o.claimBatch(userIds, { wantHolders }),
      );
      if (answer.outcome === "decided") {
        this.#snapshots.update(eventId, answer.counters, answer.holders);
      }
      return answer;
    } finally {
      if (wantHolders) entry.askingHolders = false;
    }
  }

  async claimOf(eventId: string, userId: string): Promise<CouponView | null | undefined> {
    const entry = await this.#known(eventId);
    if (!entry) return undefined;
    const shards = shardCount(entry.snapshot.def);
    const name = shards > 1 ? shardName(eventId, shardOf(eventId, userId, shards)) : eventId;
    return this.#call(name, placed(entry), (o) => o.claimOf(userId));
  }

  /**
   * Registers the id and its placement first, so that the directory knows every event that may
   * exist and where. An id registered with another placement is a conflict decided there: its
   * object lives elsewhere, and this definition must never create a second one.
   */
  async define(def: EventDefinition): Promise<DefineResult | { outcome: "conflict" }> {
    const placement = placementOf(def);
    const registered = await this.#directory(def.id).register(def.id, placement);
    if (!samePlacement(registered, placement)) return { outcome: "conflict" };
    const result = await this.#call<DefineResult>(def.id, placement, (o) => o.define(def));
    this.#snapshots.update(def.id, result.snapshot, result.snapshot.holders, result.snapshot.def);
    return result;
  }

  async setPaused(eventId: string, paused: boolean): Promise<EventView | null> {
    const entry = await this.#known(eventId);
    if (!entry) return null;
    const snapshot = await this.#call(eventId, placed(entry), (o) => o.setPaused(paused));
    if (!snapshot) return null;
    this.#snapshots.update(eventId, snapshot, snapshot.holders, snapshot.def);
    return eventView(snapshot.def, snapshot, this.#now(eventId));
  }

  /** The event's stats, counting the refusals this isolate answered for it. */
  async stats(eventId: string): Promise<StatsView | null> {
    const entry = await this.#known(eventId);
    if (!entry) return null;
    await this.#refusals.report(eventId);
    await this.#room.flush(eventId);
    return this.#call(eventId, placed(entry), (o) => o.currentStats());
  }

  /** The owner's coupon (null: unknown, or another user's), or null when the event does not exist. */
  coupon(eventId: string, couponId: string, userId: string): Promise<CouponView | null> {
    return this.#holding(eventId, couponId, (o) => o.coupon(couponId, userId));
  }

  redeem(
    eventId: string,
    input: { couponId: string; userId: string; orderId: string; idempotencyKey: string },
  ): Promise<LifecycleAnswer | null> {
    return this.#holding<LifecycleAnswer>(eventId, input.couponId, (o) => o.redeem(input));
  }

  hold(
    eventId: string,
    input: { couponId: string; userId: string; orderId: string; ttlSeconds: number },
  ): Promise<LifecycleAnswer | null> {
    return this.#holding<LifecycleAnswer>(eventId, input.couponId, (o) => o.hold(input));
  }

  restore(
    eventId: string,
    input: { couponId: string; orderId: string },
  ): Promise<LifecycleAnswer | null> {
    return this.#holding<LifecycleAnswer>(eventId, input.couponId, (o) => o.restore(input));
  }

  deadLetters(eventId: string) {
    return this.#existing(eventId, (o) => o.currentDeadLetters());
  }

  requeueDeadLetters(eventId: string) {
    return this.#existing(eventId, (o) => o.requeueAllDeadLetters());
  }

  /** A call on an existing event's object; null when the event does not exist. */
  async #existing<T>(eventId: string, fn: (o: EventStub) => PromiseLike<T>): Promise<T | null> {
    const entry = await this.#known(eventId);
    if (!entry) return null;
    return this.#call(eventId, placed(entry), fn);
  }

  /**
   * A call on the object holding the coupon (a sharded event's: the shard its id names); null
   * when the event does not exist or the id cannot be one of its coupons.
   */
  async #holding<T>(
    eventId: string,
    couponId: string,
    fn: (o: EventStub) => PromiseLike<T>,
  ): Promise<T | null> {
    const entry = await this.#known(eventId);
    if (!entry) return null;
    const name = couponObjectName(eventId, shardOfCoupon(couponId), shardCount(entry.snapshot.def));
    return name === null ? null : this.#call(name, placed(entry), fn);
  }

  /** The event's entry, loaded when unseen (or unknown for a while); may be old. Null: none. */
  async #known(eventId: string): Promise<Entry | null> {
    const entry = this.#snapshots.use(eventId);
    if (entry) return entry;
    if (this.#snapshots.isUnknown(eventId, this.#now(eventId))) return null;
    return this.#load(eventId, { fresh: false });
  }

  /** Whether the edge knows this event exists (holds its snapshot): metrics key by it. */
  knows(eventId: string): boolean {
    return this.#snapshots.knows(eventId);
  }

  /**
   * One load per id at a time (Redis first, then the directory and the object). The others wait
   * with `pollUntil`, never on its promise (seen under load as 500s: "Cannot perform I/O on
   * behalf of a different request", "code had hung"), then use what it stored, or load for
   * themselves if it stored nothing they can use.
   */
  async #load(eventId: string, opts: { fresh: boolean }): Promise<Entry | null> {
    // A read must not settle for a load that only had to prove the event exists.
    const key = opts.fresh ? `${eventId} fresh` : eventId;
    const running = this.#loading.get(key);
    if (running) {
      const over = await pollUntil(() => this.#loading.get(key) !== running, CALL_TIMEOUT_MS);
      if (!over) this.#loading.delete(key); // its request went away: this one loads instead
      const entry = this.#snapshots.peek(eventId);
      if (entry && (!opts.fresh || isFresh(entry, this.#now(eventId)))) return entry;
      if (!entry && this.#snapshots.isUnknown(eventId, this.#now(eventId))) return null;
    }
    const mine = {};
    this.#loading.set(key, mine);
    try {
      return await this.#fetch(eventId, opts);
    } finally {
      if (this.#loading.get(key) === mine) this.#loading.delete(key);
    }
  }

  async #fetch(eventId: string, opts: { fresh: boolean }): Promise<Entry | null> {
    const published = await this.#fromRedis(eventId);
    if (published) {
      this.#snapshots.update(eventId, published, published.holders, published.def);
    }
    const entry = this.#snapshots.peek(eventId);
    if (entry && (!opts.fresh || isFresh(entry, this.#now(eventId)))) return entry;
    // The directory says whether the event exists and where (its jurisdiction is in the id).
    const placement = entry ? placed(entry) : await this.#directory(eventId).placement(eventId);
    const snapshot = placement
      ? await this.#call(eventId, placement, (o) => o.currentSnapshot())
      : null;
    if (!snapshot) {
      this.#snapshots.markUnknown(eventId, this.#now(eventId));
      return null;
    }
    this.#snapshots.update(eventId, snapshot, snapshot.holders, snapshot.def);
    const stored = this.#snapshots.peek(eventId);
    if (!stored) throw new Error("unreachable: the entry was just stored");
    return stored;
  }

  /** Best effort: a slow or absent Redis only means asking the object. */
  async #fromRedis(eventId: string): Promise<EventSnapshot | null> {
    const redis = this.#services.redis;
    if (!redis) return null;
    try {
      return await withTimeout(readSnapshot(redis, eventId), REDIS_TIMEOUT_MS, "snapshot");
    } catch {
      return null;
    }
  }

  /**
   * Calls an object of the event through the one seam (event-objects.ts), with a deadline: the
   * event's own (named by its id) or one of its shards (domain/shards.ts shardName), all in the
   * event's placement.
   */
  #call<T>(name: string, placement: Placement, fn: (o: EventStub) => PromiseLike<T>): Promise<T> {
    const counted = edgeObjectCalls.get(name);
    if (counted !== undefined) edgeObjectCalls.set(name, counted + 1);
    return callObject(() => fn(this.#objects.event(name, placement)));
  }

  /** The placement of an event this isolate holds (refusal counts are only kept for those). */
  #placementOf(eventId: string): Placement {
    const entry = this.#snapshots.peek(eventId);
    if (!entry) throw new Error(`no snapshot of event ${eventId}: its placement is unknown`);
    return placed(entry);
  }

  #directory(eventId: string) {
    return this.#objects.directory(directoryShard(eventId));
  }

  #now(eventId: string): number {
    return edgeClocks.get(eventId)?.now() ?? Date.now();
  }
}

/** Where the event's objects live, as its definition says. */
function placed(entry: Entry): Placement {
  return placementOf(entry.snapshot.def);
}

function isFresh(entry: Entry, now: number): boolean {
  return now - entry.snapshot.asOf <= FRESH_MS;
}
