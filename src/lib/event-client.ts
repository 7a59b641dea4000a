import type { Clock } from "../../domain/clock.ts";
import { directoryShard } from "../../domain/directory-shard.ts";
import { type HoldersFilter, HoldersSet } from "../../domain/holders-filter.ts";
import {
  type EventDefinition,
  type Refusal,
  type RefusalSlug,
  refuse,
} from "../../domain/ledger.ts";
import {
  type ClaimAnswer,
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
import { TimeoutError, withTimeout } from "../../platform/timeout.ts";
import { ProblemError } from "../problems.ts";
import { pollUntil } from "./poll-until.ts";

/** An event's object as the bindings type it (RPC methods and all), without importing its class. */
type EventStub = ReturnType<Env["COUPON_EVENT"]["get"]>;

/** `GET /v1/events/{id}` answers from a snapshot at most this old (the contract allows 1 s). */
const FRESH_MS = 1_000;
/** An id the directory does not know is asked about again after this long. */
const UNKNOWN_TTL_MS = 1_000;
/** Clocks of isolates and objects may differ a little: "not started" is refused here only earlier. */
const START_MARGIN_MS = 1_000;
/** Snapshots kept per isolate; the oldest entry goes first. */
const MAX_EVENTS = 1_000;
/** An object call slower than this answers 503 instead of holding the caller for seconds. */
const CALL_TIMEOUT_MS = 3_000;
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

/** Keeps background work alive after the answer (the request's `waitUntil`). */
export type WaitUntil = (work: Promise<unknown>) => void;

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
  readonly #entries = new Map<string, Entry>();
  /** Loads under way, by key: a token, never their promise (see #load). */
  readonly #loading = new Map<string, object>();
  /** Refusals answered here and not yet reported to the event's object, by slug. */
  readonly #shed = new Map<string, Map<RefusalSlug, number>>();

  constructor(env: Env) {
    this.#env = env;
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

  async claim(eventId: string, userId: string, waitUntil?: WaitUntil): Promise<ClaimAnswer> {
    const entry = await this.#known(eventId);
    const snapshot = entry.snapshot;
    if (!snapshot) return { outcome: "unknown-event" };
    const refusal = this.#certainRefusal(entry, snapshot, userId);
    if (refusal) {
      this.#countShed(eventId, refusal.slug, waitUntil);
      return { outcome: "refused", refusal, counters: snapshot };
    }
    const wantHolders = !entry.holders && !entry.askingHolders;
    if (wantHolders) entry.askingHolders = true;
    try {
      const answer = await this.#call<ClaimAnswer>(eventId, (o) =>
        o.claim(userId, { wantHolders }),
      );
      if (answer.outcome !== "unknown-event")
        this.#update(eventId, answer.counters, answer.holders);
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

  /** Any other call on an existing event's object (operator reads and actions). */
  async call<T>(eventId: string, fn: (o: EventStub) => PromiseLike<T>): Promise<T | null> {
    if (!(await this.#known(eventId)).snapshot) return null;
    return this.#call(eventId, fn);
  }

  /**
   * Only what the object would refuse for certain: before the start (nobody can hold a coupon
   * yet), or sold out / ended once the holders are final and this user is certainly not one.
   * Paused and awaiting-release can change at any moment (an operator, a wave), so the object
   * decides those.
   */
  #certainRefusal(entry: Entry, snapshot: EventSnapshot, userId: string): Refusal | null {
    const now = this.#now(snapshot.def.id);
    const refusal = refuse(snapshot.def, snapshot, now);
    if (!refusal) return null;
    if (refusal.slug === "not-started") {
      return now < snapshot.def.startsAt - START_MARGIN_MS ? refusal : null;
    }
    if (refusal.slug === "sold-out" || refusal.slug === "ended") {
      return entry.holders && !entry.holders.mightHold(userId) ? refusal : null;
    }
    return null;
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

  /**
   * Calls the event's object with a deadline. An overloaded object answers 503 at once; an
   * error the platform marks retryable is retried once on a fresh stub (every call here is
   * idempotent: a claim retried gives the same coupon).
   */
  async #call<T>(eventId: string, fn: (o: EventStub) => PromiseLike<T>): Promise<T> {
    try {
      return await withTimeout(
        Promise.resolve(fn(this.#object(eventId))),
        CALL_TIMEOUT_MS,
        "event object",
      );
    } catch (err) {
      if (!isRetryable(err) || isOverloaded(err)) throw asUnavailable(err);
      try {
        return await withTimeout(
          Promise.resolve(fn(this.#object(eventId))),
          CALL_TIMEOUT_MS,
          "event object",
        );
      } catch (again) {
        throw asUnavailable(again);
      }
    }
  }

  #object(eventId: string): EventStub {
    return this.#env.COUPON_EVENT.get(this.#env.COUPON_EVENT.idFromName(eventId));
  }

  #directory(eventId: string) {
    const ns = this.#env.EVENT_DIRECTORY;
    return ns.get(ns.idFromName(directoryShard(eventId)));
  }

  #now(eventId: string): number {
    return edgeClocks.get(eventId)?.now() ?? Date.now();
  }
}

/** The request's `waitUntil`, when it has one (a request built by a test may not). */
export function waitUntilOf(c: {
  executionCtx: { waitUntil(work: Promise<unknown>): void };
}): WaitUntil | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
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

type PlatformError = Error & { retryable?: boolean; overloaded?: boolean };

function isRetryable(err: unknown): boolean {
  return err instanceof Error && (err as PlatformError).retryable === true;
}

function isOverloaded(err: unknown): boolean {
  return err instanceof Error && (err as PlatformError).overloaded === true;
}

/** A busy or unreachable object: the caller should come back in a second, not wait. */
function asUnavailable(err: unknown): unknown {
  if (err instanceof ProblemError) return err;
  if (!(err instanceof TimeoutError) && !isRetryable(err) && !isOverloaded(err)) return err;
  return new ProblemError("unavailable", {
    detail: "The event is busy; try again.",
    retryAfter: 1,
  });
}
