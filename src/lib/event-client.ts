import type { Clock } from "../../domain/clock.ts";
import type { LifecycleAnswer } from "../../domain/coupon-lifecycle.ts";
import { directoryShard } from "../../domain/directory-shard.ts";
import { certainRefusal } from "../../domain/edge-refusal.ts";
import { type HoldersFilter, HoldersSet } from "../../domain/holders-filter.ts";
import type { EventDefinition, RefusalSlug } from "../../domain/ledger.ts";
import {
  type ClaimAnswer,
  type ClaimBatchAnswer,
  type CouponView,
  type DefineResult,
  type EventCounters,
  type EventSnapshot,
  type EventView,
  eventView,
  type StatsView,
} from "../../domain/views.ts";
import { redisFor } from "../../platform/redis.ts";
import { readSnapshot } from "../../platform/snapshot-registry.ts";
import { withTimeout } from "../../platform/timeout.ts";
import { ProblemError } from "../problems.ts";
import { ClaimBatcher, TIMED_OUT } from "./claim-batcher.ts";
import { type EventObjects, type EventStub, eventObjects } from "./event-objects.ts";
import { asUnavailable, CALL_TIMEOUT_MS, callObject } from "./object-call.ts";
import { pollUntil } from "./poll-until.ts";
import type { WaitUntil } from "./wait-until.ts";

/** `GET /v1/events/{id}` answers from a snapshot at most this old (the contract allows 1 s). */
const FRESH_MS = 1_000;
/** An id the directory does not know is asked about again after this long. */
const UNKNOWN_TTL_MS = 1_000;
/** Snapshots kept per isolate; the oldest entry goes first. */
const MAX_EVENTS = 1_000;
const REDIS_TIMEOUT_MS = 250;
/** A read older than this (but still fresh) refreshes the snapshot behind the answer. */
const REFRESH_AFTER_MS = 500;

interface Entry {
  /** Null: the directory does not know this id (as of `checkedAt`). */
  snapshot: EventSnapshot | null;
  checkedAt: number;
  /** The holders once they are final (sold out or ended); null until the object sends them. */
  holders: HoldersSet | null;
  /** A claim asking the object for the holders is on its way (one at a time per isolate). */
  askingHolders: boolean;
  /** A request is refreshing this snapshot behind its answer (one at a time per isolate). */
  refreshing?: boolean;
}

/** Edge refusals are handed to the object (for its stats) at most this often per event. */
const SHED_REPORT_MS = 1_000;

/** Test seam: the edge reads time from these clocks per event instead of Date.now(). */
export const edgeClocks = new Map<string, Clock>();

/**
 * The Worker's side of an event: the one place routes go through instead of the raw stub. It
 * keeps a snapshot of each event per isolate, updated from every object answer and from the
 * snapshots the objects publish to Redis; answers reads from it and refuses, without calling the
 * object, claims the object would certainly refuse (not started, or sold out/ended for a user the
 * holders' filter says holds nothing). It creates no storage for an id nobody created, and turns
 * a slow or overloaded object into a quick 503.
 */
export class EventClient {
  readonly #env: Env;
  readonly #objects: EventObjects;
  readonly #batcher = new ClaimBatcher();
  readonly #entries = new Map<string, Entry>();
  /** Loads under way, by key: a token, never their promise (see #load). */
  readonly #loading = new Map<string, object>();
  /** Refusals answered here and not yet reported to the event's object, by slug. */
  readonly #shed = new Map<string, Map<RefusalSlug, number>>();

  constructor(env: Env) {
    this.#env = env;
    this.#objects = eventObjects(env);
  }

  /**
   * The event as of at most FRESH_MS ago, or null when it does not exist. A busy event's snapshot
   * is refreshed behind an answer (`waitUntil`) before it gets too old, so reads rarely wait.
   */
  async read(eventId: string, waitUntil?: WaitUntil): Promise<EventView | null> {
    const now = this.#now(eventId);
    let entry = this.#entries.get(eventId);
    if (!entry || !isFresh(entry, now)) {
      entry = await this.#load(eventId, { fresh: true });
    } else if (waitUntil && entry.snapshot && !entry.refreshing) {
      if (now - entry.snapshot.asOf > REFRESH_AFTER_MS) {
        const refreshing = entry;
        refreshing.refreshing = true;
        waitUntil(
          this.#load(eventId, { fresh: true })
            .catch(() => undefined)
            .finally(() => {
              refreshing.refreshing = false;
            }),
        );
      }
    }
    return entry.snapshot ? eventView(entry.snapshot.def, entry.snapshot, now) : null;
  }

  /**
   * A claim: refused here when the snapshot makes the object's answer certain, else decided by
   * the object in a batch with the other claims this isolate has for the event (claim-batcher.ts).
   * A batch that fails or times out answers 503 to each of its claims; a retry is idempotent.
   */
  async claim(eventId: string, userId: string, waitUntil?: WaitUntil): Promise<ClaimAnswer> {
    const entry = await this.#known(eventId);
    const snapshot = entry.snapshot;
    if (!snapshot) return { outcome: "unknown-event" };
    const now = this.#now(eventId);
    const refusal = certainRefusal(snapshot.def, snapshot, entry.holders, userId, now);
    if (refusal) {
      this.#countShed(eventId, refusal.slug, waitUntil);
      return { outcome: "refused", refusal, counters: snapshot };
    }
    const batched = await this.#batcher.claim(
      eventId,
      userId,
      (userIds) => this.#claimBatch(eventId, entry, userIds),
      { deadlineMs: CALL_TIMEOUT_MS * 2, waitUntil },
    );
    switch (batched.outcome) {
      case "unknown-event":
        return batched;
      case "failed":
        throw batched.error === TIMED_OUT
          ? new ProblemError("unavailable", {
              detail: "The event is busy; try again.",
              retryAfter: 1,
            })
          : asUnavailable(batched.error);
      default: {
        const current = this.#entries.get(eventId)?.snapshot ?? snapshot;
        return { ...batched.decision, counters: current };
      }
    }
  }

  /** One call for a batch; the snapshot follows its counters (and the holders, once final). */
  async #claimBatch(eventId: string, entry: Entry, userIds: string[]): Promise<ClaimBatchAnswer> {
    const wantHolders = !entry.holders && !entry.askingHolders;
    if (wantHolders) entry.askingHolders = true;
    try {
      const answer = await this.#call<ClaimBatchAnswer>(eventId, (o) =>
        o.claimBatch(userIds, { wantHolders }),
      );
      if (answer.outcome === "decided") this.#update(eventId, answer.counters, answer.holders);
      return answer;
    } finally {
      if (wantHolders) entry.askingHolders = false;
    }
  }

  async claimOf(eventId: string, userId: string): Promise<CouponView | null | undefined> {
    if (!(await this.#known(eventId)).snapshot) return undefined;
    return this.#call(eventId, (o) => o.claimOf(userId));
  }

  /** Registers the id first, so that the directory knows every event that may exist. */
  async define(def: EventDefinition): Promise<DefineResult> {
    await this.#directory(def.id).register(def.id);
    const result = await this.#call<DefineResult>(def.id, (o) => o.define(def));
    this.#update(def.id, result.snapshot, result.snapshot.holders, result.snapshot.def);
    return result;
  }

  async setPaused(eventId: string, paused: boolean): Promise<EventView | null> {
    if (!(await this.#known(eventId)).snapshot) return null;
    const snapshot = await this.#call(eventId, (o) => o.setPaused(paused));
    if (!snapshot) return null;
    this.#update(eventId, snapshot, snapshot.holders, snapshot.def);
    return eventView(snapshot.def, snapshot, this.#now(eventId));
  }

  /** The event's stats, counting the refusals this isolate answered for it. */
  async stats(eventId: string): Promise<StatsView | null> {
    if (!(await this.#known(eventId)).snapshot) return null;
    await this.#reportShed(eventId);
    return this.#call(eventId, (o) => o.stats());
  }

  /** The owner's coupon (null: unknown, or another user's), or null when the event does not exist. */
  coupon(eventId: string, couponId: string, userId: string): Promise<CouponView | null> {
    return this.#existing(eventId, (o) => o.coupon(couponId, userId));
  }

  redeem(
    eventId: string,
    input: { couponId: string; userId: string; orderId: string; idempotencyKey: string },
  ): Promise<LifecycleAnswer | null> {
    return this.#existing<LifecycleAnswer>(eventId, (o) => o.redeem(input));
  }

  hold(
    eventId: string,
    input: { couponId: string; userId: string; orderId: string; ttlSeconds: number },
  ): Promise<LifecycleAnswer | null> {
    return this.#existing<LifecycleAnswer>(eventId, (o) => o.hold(input));
  }

  restore(
    eventId: string,
    input: { couponId: string; orderId: string },
  ): Promise<LifecycleAnswer | null> {
    return this.#existing<LifecycleAnswer>(eventId, (o) => o.restore(input));
  }

  deadLetters(eventId: string) {
    return this.#existing(eventId, (o) => o.deadLetters());
  }

  requeueDeadLetters(eventId: string) {
    return this.#existing(eventId, (o) => o.requeueDeadLetters());
  }

  /** A call on an existing event's object; null when the event does not exist. */
  async #existing<T>(eventId: string, fn: (o: EventStub) => PromiseLike<T>): Promise<T | null> {
    if (!(await this.#known(eventId)).snapshot) return null;
    return this.#call(eventId, fn);
  }

  #countShed(eventId: string, slug: RefusalSlug, waitUntil?: WaitUntil): void {
    let counts = this.#shed.get(eventId);
    if (!counts) {
      counts = new Map();
      this.#shed.set(eventId, counts);
      // The first refusal of a period schedules the report; later ones only count.
      waitUntil?.(
        new Promise((done) => setTimeout(done, SHED_REPORT_MS)).then(() =>
          this.#reportShed(eventId),
        ),
      );
    }
    counts.set(slug, (counts.get(slug) ?? 0) + 1);
  }

  /** Best effort: counts that cannot be handed over now are kept for the next report. */
  async #reportShed(eventId: string): Promise<void> {
    const counts = this.#shed.get(eventId);
    if (!counts) return;
    this.#shed.delete(eventId);
    try {
      await this.#call(eventId, (o) => o.countRefusals(Object.fromEntries(counts)));
    } catch {
      const now = this.#shed.get(eventId) ?? new Map<RefusalSlug, number>();
      for (const [slug, n] of counts) now.set(slug, (now.get(slug) ?? 0) + n);
      this.#shed.set(eventId, now);
    }
  }

  /** The entry of an id, loading it when unseen (or unknown for a while); may be old. */
  async #known(eventId: string): Promise<Entry> {
    const entry = this.#entries.get(eventId);
    if (entry?.snapshot) return entry;
    if (entry && this.#now(eventId) - entry.checkedAt <= UNKNOWN_TTL_MS) return entry;
    return this.#load(eventId, { fresh: false });
  }

  /**
   * One load per id at a time (Redis first, then the directory and the object). The others wait
   * with `pollUntil`, never on its promise (seen under load as 500s: "Cannot perform I/O on
   * behalf of a different request", "code had hung"), then use what it stored, or load for
   * themselves if it stored nothing they can use.
   */
  async #load(eventId: string, opts: { fresh: boolean }): Promise<Entry> {
    // A read must not settle for a load that only had to prove the event exists.
    const key = opts.fresh ? `${eventId} fresh` : eventId;
    const running = this.#loading.get(key);
    if (running) {
      const over = await pollUntil(() => this.#loading.get(key) !== running, CALL_TIMEOUT_MS);
      if (!over) this.#loading.delete(key); // its request went away: this one loads instead
      const entry = this.#entries.get(eventId);
      if (entry && (!opts.fresh || isFresh(entry, this.#now(eventId)))) return entry;
    }
    const mine = {};
    this.#loading.set(key, mine);
    try {
      return await this.#fetch(eventId, opts);
    } finally {
      if (this.#loading.get(key) === mine) this.#loading.delete(key);
    }
  }

  async #fetch(eventId: string, opts: { fresh: boolean }): Promise<Entry> {
    const published = await this.#fromRedis(eventId);
    if (published) this.#update(eventId, published, published.holders, published.def);
    let entry = this.#entries.get(eventId);
    if (entry?.snapshot && (!opts.fresh || isFresh(entry, this.#now(eventId)))) return entry;
    const exists = entry?.snapshot ? true : await this.#directory(eventId).has(eventId);
    const snapshot = exists ? await this.#call(eventId, (o) => o.snapshot()) : null;
    if (snapshot) {
      this.#update(eventId, snapshot, snapshot.holders, snapshot.def);
    } else {
      this.#entries.delete(eventId);
      this.#remember(eventId, emptyEntry(this.#now(eventId)));
    }
    entry = this.#entries.get(eventId);
    if (!entry) throw new Error("unreachable: the entry was just stored");
    return entry;
  }

  /** Best effort: a slow or absent Redis only means asking the object. */
  async #fromRedis(eventId: string): Promise<EventSnapshot | null> {
    const redis = redisFor(this.#env);
    if (!redis) return null;
    try {
      return await withTimeout(readSnapshot(redis, eventId), REDIS_TIMEOUT_MS, "snapshot");
    } catch {
      return null;
    }
  }

  /** Keeps the newest counters (by version), the definition, and the holders once sent. */
  #update(
    eventId: string,
    counters: EventCounters,
    holders?: HoldersFilter | null,
    def?: EventDefinition,
  ): void {
    const entry = this.#entries.get(eventId);
    const current = entry?.snapshot;
    const known = def ?? current?.def;
    if (!entry || !current || !known) {
      if (!known) return; // counters of an event whose definition this isolate never saw
      this.#remember(eventId, {
        snapshot: { def: known, ...pick(counters), holders: null },
        checkedAt: counters.asOf,
        holders: holders ? new HoldersSet(holders) : null,
        askingHolders: false,
      });
      return;
    }
    if (counters.version > current.version) {
      entry.snapshot = { def: known, ...pick(counters), holders: null };
    } else if (counters.version === current.version && counters.asOf > current.asOf) {
      current.asOf = counters.asOf;
    }
    if (holders && !entry.holders) entry.holders = new HoldersSet(holders);
  }

  #remember(eventId: string, entry: Entry): void {
    if (this.#entries.size >= MAX_EVENTS) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(eventId, entry);
  }

  /** Calls the event's object through the one seam (event-objects.ts), with a deadline. */
  #call<T>(eventId: string, fn: (o: EventStub) => PromiseLike<T>): Promise<T> {
    return callObject(() => fn(this.#objects.event(eventId)));
  }

  #directory(eventId: string) {
    return this.#objects.directory(directoryShard(eventId));
  }

  #now(eventId: string): number {
    return edgeClocks.get(eventId)?.now() ?? Date.now();
  }
}

const clients = new WeakMap<object, EventClient>();

/** The isolate's client for these bindings (snapshots live as long as the isolate). */
export function eventClient(env: Env): EventClient {
  let client = clients.get(env);
  if (!client) {
    client = new EventClient(env);
    clients.set(env, client);
  }
  return client;
}

function isFresh(entry: Entry, now: number): boolean {
  return entry.snapshot
    ? now - entry.snapshot.asOf <= FRESH_MS
    : now - entry.checkedAt <= UNKNOWN_TTL_MS;
}

function emptyEntry(now: number): Entry {
  return { snapshot: null, checkedAt: now, holders: null, askingHolders: false };
}

function pick(c: EventCounters): EventCounters {
  return { version: c.version, issued: c.issued, paused: c.paused, asOf: c.asOf };
}
