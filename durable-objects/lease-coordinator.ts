import type { Clock } from "../domain/clock.ts";
import { type EventDefinition, nextWaveAt, releasedAt, secondsUntil } from "../domain/ledger.ts";
import { placementOf } from "../domain/placement.ts";
import {
  grantSize,
  type LeaseAnswer,
  type LeaseRequest,
  SHARD_BUSY,
  shardCount,
  shardName,
} from "../domain/shards.ts";
import type { StatsView } from "../domain/views.ts";
import { placedStub } from "../platform/object-placement.ts";
import { LeaseBook } from "./lease-book.ts";
import type { ObjectStub, ShardRpc } from "./shard-rpc.ts";

/** Shard totals older than this are asked again before a read or a published snapshot. */
const COUNTS_FRESH_MS = 200;

type ShardStub = ObjectStub<ShardRpc>;

/** The coordinator's view of the event it serves: its definition and pause, from its object. */
export interface CoordinatorHost {
  env: Env;
  sql: SqlStorage;
  transaction: <T>(fn: () => T) => T;
  clock: () => Clock;
  def: () => EventDefinition | null;
  paused: () => boolean;
  /** The shard totals changed: publish the event's snapshot (throttled by the caller). */
  changed: () => void;
}

/**
 * The event's own object when its stock is spread over shards (docs/shards.md): it keeps the
 * definition, the waves and pause, and leases released stock to the shards, recording each grant
 * by (shard, lease number) in one transaction, so that a repeated ask gets the same grant and
 * Σ leased ≤ released ≤ totalStock at every moment. When the unleased pool is empty it recalls
 * the shards' unissued remainders before it answers: `sold-out` only once every released coupon
 * is issued, `awaiting-release` only while a later wave is still to come.
 */
export class LeaseCoordinator {
  readonly #host: CoordinatorHost;
  readonly #book: LeaseBook;
  #countedAt = 0;

  constructor(host: CoordinatorHost) {
    this.#host = host;
    this.#book = new LeaseBook(host.sql);
  }

  /** Coupons issued over all shards, as last counted (a lower bound; see `count`). */
  get issued(): number {
    return this.#book.issued;
  }

  /** Makes every shard a shard of this event (idempotent: a create repeated joins them again). */
  async join(def: EventDefinition): Promise<void> {
    await Promise.all(
      this.#shards(def).map(async ([k, stub]) => {
        const joined = await stub.joinEvent(def, k);
        if (!joined) throw new Error(`shard ${k} holds another definition`);
      }),
    );
  }

  /** Every shard pauses or resumes before this returns. */
  async pauseAll(paused: boolean): Promise<void> {
    const def = this.#host.def();
    if (!def) return;
    await Promise.all(this.#shards(def).map(([, stub]) => stub.setPaused(paused)));
  }

  /** Asks every shard for its totals (at most every COUNTS_FRESH_MS unless `force`). */
  async count(force = false): Promise<void> {
    const def = this.#host.def();
    if (!def) return;
    const now = Date.now();
    if (!force && now - this.#countedAt < COUNTS_FRESH_MS) return;
    this.#countedAt = now;
    const before = this.#book.issued;
    const totals = await Promise.all(this.#shards(def).map(([, stub]) => stub.shareTotals()));
    totals.forEach((t, k) => {
      if (t) this.#book.observe(k, t);
    });
    if (this.#book.issued !== before) this.#host.changed();
  }

  /** Each shard's stats, in shard order (their outboxes, sinks and refusals). */
  async shardStats(): Promise<StatsView[]> {
    const def = this.#host.def();
    if (!def) return [];
    const parts: (StatsView | null)[] = await Promise.all(
      this.#shards(def).map(([, stub]) => stub.stats()),
    );
    return parts.filter((p): p is StatsView => p !== null);
  }

  /** Every shard's stub with its index. */
  shards(): [number, ShardStub][] {
    const def = this.#host.def();
    return def ? this.#shards(def) : [];
  }

  /** A shard asks for stock (see the class comment). */
  async lease(req: LeaseRequest): Promise<LeaseAnswer> {
    const def = this.#host.def();
    if (!def) throw new Error("no event here to lease from");
    assertRequest(req, shardCount(def));
    this.#book.observe(req.shard, req);
    const done = this.#book.grantOf(req.shard, req.seq);
    if (done !== null) return { outcome: "granted", granted: done };
    const gate = this.#gate(def);
    if (gate) return gate;

    let pool = releasedAt(def, this.#host.clock().now()) - this.#book.leased;
    let answered = true;
    // A top-up in the background never recalls: only users waiting with no stock do.
    if (pool <= 0 && !req.urgent) return { outcome: "retry" };
    if (pool <= 0) {
      answered = await this.#recall(def, req.shard);
      // Another ask for the same lease may have been granted while the recall ran.
      const granted = this.#book.grantOf(req.shard, req.seq);
      if (granted !== null) return { outcome: "granted", granted };
      const again = this.#gate(def);
      if (again) return again;
      pool = releasedAt(def, this.#host.clock().now()) - this.#book.leased;
    }
    if (pool > 0) {
      const granted = grantSize(req.want, pool, shardCount(def));
      this.#host.transaction(() => this.#book.record(req.shard, req.seq, granted));
      this.#host.changed();
      return { outcome: "granted", granted };
    }
    // A shard that did not answer may hold stock: saying "sold out" now could be untrue.
    if (!answered) throw new Error(`${SHARD_BUSY} a shard did not answer the recall`);
    const now = this.#host.clock().now();
    const released = releasedAt(def, now);
    // Issued counts are lower bounds: short of `released`, stock is still on its way somewhere.
    if (this.#book.issued < released) return { outcome: "retry" };
    this.#host.changed();
    const next = nextWaveAt(def, now);
    if (next !== null) {
      return {
        outcome: "refused",
        refusal: { slug: "awaiting-release", retryAfter: secondsUntil(next, now) },
        until: next,
      };
    }
    return { outcome: "refused", refusal: { slug: "sold-out" }, until: null };
  }

  /** Takes back every other shard's unissued remainder; true when every one answered. */
  async #recall(def: EventDefinition, except: number): Promise<boolean> {
    const asked = this.#shards(def).filter(([k]) => k !== except);
    const answers = await Promise.allSettled(
      asked.map(([k, stub]) =>
        stub.giveBack(this.#book.grantsFrom(k, this.#book.unconfirmedFrom(k))),
      ),
    );
    let all = true;
    answers.forEach((answer, i) => {
      const k = asked[i]?.[0];
      if (k === undefined) return;
      if (answer.status === "fulfilled" && answer.value) this.#book.observe(k, answer.value);
      else all = false;
    });
    return all;
  }

  /** What no lease can change: ended, paused, not started. */
  #gate(def: EventDefinition): LeaseAnswer | null {
    const now = this.#host.clock().now();
    if (def.endsAt !== null && now >= def.endsAt) {
      return { outcome: "refused", refusal: { slug: "ended" }, until: null };
    }
    if (this.#host.paused())
      return { outcome: "refused", refusal: { slug: "paused" }, until: null };
    if (now < def.startsAt) {
      return {
        outcome: "refused",
        refusal: { slug: "not-started", retryAfter: secondsUntil(def.startsAt, now) },
        until: def.startsAt,
      };
    }
    return null;
  }

  #shards(def: EventDefinition): [number, ShardStub][] {
    const ns = this.#host.env.COUPON_EVENT;
    const placement = placementOf(def);
    // Every shard lives where its event does (region and jurisdiction), as the edge finds it.
    return Array.from({ length: shardCount(def) }, (_, k) => [
      k,
      placedStub(ns, shardName(def.id, k), placement) as unknown as ShardStub,
    ]);
  }
}

function assertRequest(req: LeaseRequest, shards: number): void {
  const counts = ["seq", "want", "granted", "returned", "issued"] as const;
  const ok =
    Number.isSafeInteger(req.shard) &&
    req.shard >= 0 &&
    req.shard < shards &&
    counts.every((key) => Number.isSafeInteger(req[key]) && req[key] >= 0) &&
    req.want >= 1 &&
    typeof req.urgent === "boolean";
  if (!ok) throw new TypeError("malformed lease request");
}
