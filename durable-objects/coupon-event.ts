import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { planClaims } from "../domain/claim-batch.ts";
import { type Clock, systemClock } from "../domain/clock.ts";
import type { CouponView } from "../domain/coupon.ts";
import { COUPON_ID_PATTERN, newCouponId } from "../domain/coupon-id.ts";
import {
  type CouponChange,
  type Decision,
  decideHold,
  decideHoldLapse,
  decideRedeem,
  decideRestore,
  type LifecycleAnswer,
} from "../domain/coupon-lifecycle.ts";
import { eventDefinitionSchema, sameDefinition } from "../domain/definition.ts";
import { buildHoldersFilter, type HoldersFilter } from "../domain/holders-filter.ts";
import {
  HOLD_TTL_MAX_SECONDS,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  IDEMPOTENCY_KEY_TTL_MS,
  IDEMPOTENCY_KEYS_PER_COUPON,
  isWellFormed,
  ORDER_ID_MAX_LENGTH,
  userIdFault,
} from "../domain/identifiers.ts";
import {
  type EventDefinition,
  type LedgerCounters,
  REFUSAL_SLUGS,
  type RefusalSlug,
} from "../domain/ledger.ts";
import { sumStats } from "../domain/shard-stats.ts";
import {
  type Grant,
  type LeaseAnswer,
  type LeaseRequest,
  leaseWant,
  lowMark,
  SHARD_BUSY,
  type ShareTotals,
  shardCount,
  shareDefinition,
} from "../domain/shards.ts";
import type { CouponRecord } from "../domain/sinks.ts";
import {
  type ClaimAnswer,
  type ClaimBatchAnswer,
  type ClaimDecision,
  type ClaimResult,
  type CouponRow,
  couponView,
  type DefineResult,
  type EventCounters,
  type EventSnapshot,
  eventView,
  iso,
  MAX_CLAIM_BATCH,
  type StatsView,
} from "../domain/views.ts";
import { type Services, servicesFor } from "../platform/services.ts";
import type { Sinks } from "../platform/sinks/index.ts";
import { AlarmPlan, DRAIN_ERROR_RETRY_MS, realTime } from "./alarm-plan.ts";
import { ClaimsStore } from "./claims-store.ts";
import { drainStep } from "./drain.ts";
import { eventStats, Rejections } from "./event-stats.ts";
import { LeaseCoordinator } from "./lease-coordinator.ts";
import { LeaseShare } from "./lease-share.ts";
import { type DeadLetter, Outbox } from "./outbox.ts";
import { Publications } from "./publications.ts";
import {
  coordinatorOf,
  pauseFor,
  RETRY_PAUSE_MS,
  SHARE_DEADLINE_MS,
  waitForLease,
} from "./shard-calls.ts";
import type { CoordinatorRpc, ShardRpc } from "./shard-rpc.ts";
import { SinkStatusStore } from "./sink-status.ts";
import { migrate } from "./storage-schema.ts";
import { type JoinReport, MAX_JOIN_REPORT, type RoomTable, WaitingRoom } from "./waiting-room.ts";

const REFUSALS: ReadonlySet<string> = new Set<RefusalSlug>(REFUSAL_SLUGS);
/** Past this many holders no filter is built (it would be mostly ones): the edge asks the object. */
const MAX_FILTERED_HOLDERS = 1_000_000;

/**
 * One first-come-first-served event. The only writer of its stock: claims are decided in
 * memory and recorded (claim rows, which are also their outbox records, and the counter) in one
 * synchronous SQLite transaction, with no `await` in between, so no interleaving can oversell.
 * Hot counters live in memory and are rebuilt from storage whenever the object starts. An alarm
 * drains the outbox to the sinks.
 */
export class CouponEvent extends DurableObject<Env> implements ShardRpc, CoordinatorRpc {
  /** Where time comes from (the test subclass takes a ManualClock). */
  protected clock: Clock = systemClock;
  #def: EventDefinition | null = null;
  #counters: LedgerCounters = { issued: 0, paused: false };
  #pauseChanges = 0;
  /** Built once the holders are final (sold out or ended), then never changes. */
  #holders: HoldersFilter | null = null;
  readonly #claims: ClaimsStore;
  readonly #outbox: Outbox;
  readonly #sinkStatus: SinkStatusStore;
  readonly #rejections: Rejections;
  readonly #alarm: AlarmPlan;
  readonly #publications: Publications;
  /** The isolate's configuration and clients. */
  readonly #services: Services;
  readonly #room: WaitingRoom;
  /** A sharded event's roles (docs/shards.md): its coordinator, or one of its shards. */
  #coordinator: LeaseCoordinator | null = null;
  #share: LeaseShare | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#services = servicesFor(env);
    // SQLite storage is synchronous, so loading here completes before any call is delivered.
    migrate(ctx.storage.sql);
    this.#claims = new ClaimsStore(ctx.storage.sql);
    this.#outbox = new Outbox(ctx.storage.sql);
    this.#sinkStatus = new SinkStatusStore(ctx.storage.sql);
    this.#rejections = new Rejections(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    this.#alarm = new AlarmPlan(ctx.storage);
    this.#room = new WaitingRoom(ctx.storage.sql);
    this.#publications = new Publications({
      services: this.#services,
      waitUntil: (work) => ctx.waitUntil(work),
      // A shard never publishes the event's snapshot (the coordinator does, summed), and its
      // outbox summary goes under its own name.
      snapshot: () => (this.#share ? null : this.snapshot()),
      stats: () => this.#summaryStats(),
    });
    this.#load();
    this.#share = LeaseShare.load(ctx.storage.sql);
    this.#roles();
    ctx.blockConcurrencyWhile(async () => {
      // A restart must never strand records: make sure a drain is coming if any are waiting.
      if ((await this.#alarm.load()) === null && this.#outbox.pending().pending > 0) {
        this.#alarm.drainSoon();
      }
    });
  }

  /**
   * Creates the event, or confirms an identical earlier create. A sharded event's shards all
   * join before this returns (again on a repeated create, so one that failed half way heals).
   */
  async define(input: EventDefinition): Promise<DefineResult> {
    const def = eventDefinitionSchema.parse(input);
    const now = this.clock.now();
    if (this.#def) {
      const outcome = sameDefinition(this.#def, def) ? "unchanged" : "conflict";
      if (outcome === "unchanged" && this.#coordinator) await this.#joinShards(this.#def);
      return { outcome, snapshot: this.#snapshot(this.#def, now) };
    }
    this.ctx.storage.sql.exec(
      "INSERT INTO event (singleton, definition, created_at) VALUES (1, ?, ?)",
      JSON.stringify(def),
      now,
    );
    if (def.queue) {
      this.#room.create();
      this.#alarm.noLaterThan(realTime(this.#room.nextDue(def), this.clock));
    }
    this.#def = def;
    this.#roles();
    if (this.#coordinator) await this.#joinShards(def);
    this.#publications.snapshotSoon();
    return { outcome: "created", snapshot: this.#snapshot(def, now) };
  }

  /** Everything an isolate needs to answer reads and final refusals itself. */
  snapshot(): EventSnapshot | null {
    if (!this.#def) return null;
    const now = this.clock.now();
    this.#advanceRoom(this.#def, now);
    return this.#snapshot(this.#def, now);
  }

  /** Joins the edge let in (waiting room), in batches: never one call per join. */
  reportJoins(joins: JoinReport[]): { known: number } | null {
    if (!Array.isArray(joins) || joins.length > MAX_JOIN_REPORT) {
      throw new TypeError(`joins must be an array of at most ${MAX_JOIN_REPORT} joins`);
    }
    this.joinReportArrived(joins.length);
    const def = this.#def;
    if (!def?.queue) return null;
    for (const join of joins) {
      if (!Array.isArray(join) || !Number.isSafeInteger(join[1])) throw new TypeError("bad join");
      assertUserId(join[0]);
    }
    const now = this.clock.now();
    this.ctx.storage.transactionSync(() => this.#room.report(joins));
    this.#advanceRoom(def, now);
    this.#publications.snapshotSoon();
    return { known: this.#room.state(def, now).joined };
  }

  /** The draw table and late joiners from `lateFrom`, for the edge to place users itself. */
  roomTable(lateFrom: number): RoomTable | null {
    if (!this.#def?.queue || !Number.isSafeInteger(lateFrom)) return null;
    this.roomTableAsked();
    this.#advanceRoom(this.#def, this.clock.now());
    return this.#room.table(lateFrom);
  }

  /** One user's place, when the edge's table cannot tell (two joiners share a table prefix). */
  roomPlace(userId: string): number | null {
    if (!this.#def?.queue) return null;
    assertUserId(userId);
    return this.#room.placeOf(userId);
  }

  /**
   * Pauses or resumes at once; repeating either is harmless. A sharded event's shards all follow
   * before this returns.
   */
  async setPaused(paused: boolean): Promise<EventSnapshot | null> {
    const snapshot = this.#setPaused(paused);
    if (snapshot && this.#coordinator) {
      await this.#coordinator.pauseAll(paused);
      this.#publications.snapshotSoon();
    }
    return snapshot;
  }

  #setPaused(paused: boolean): EventSnapshot | null {
    if (!this.#def) return null;
    if (this.#counters.paused !== paused) {
      this.ctx.storage.sql.exec(
        "UPDATE event SET paused = ?, pause_changes = pause_changes + 1",
        paused ? 1 : 0,
      );
      this.#counters.paused = paused;
      this.#pauseChanges += 1;
      this.#publications.snapshotSoon();
    }
    const now = this.clock.now();
    this.#advanceRoom(this.#def, now);
    return this.#snapshot(this.#def, now);
  }

  /**
   * Issues this user's coupon, or gives back the one it holds, or says why not: a batch of one.
   */
  claim(userId: string, opts?: { wantHolders?: boolean }): ClaimAnswer {
    const answer = this.claimBatch([userId], opts);
    if (answer.outcome === "unknown-event") return answer;
    const [result] = answer.results;
    if (!result) throw new Error("a batch of one answered nothing");
    const single: ClaimResult = { ...result, counters: answer.counters };
    if (answer.holders) single.holders = answer.holders;
    return single;
  }

  /**
   * Decides claims in arrival order: `results[i]` answers `userIds[i]`. Everything that can be
   * decided from memory and a read (refusals, users who already hold a coupon) is, before any
   * write, so a batch of refusals writes nothing and never waits for a storage flush. The new
   * coupons then go in one transaction: one insert per table, one counter update. Every answer
   * carries the counters, so the caller's snapshot follows; `wantHolders` asks for the holders'
   * filter too, which comes only once the holders are final.
   */
  claimBatch(userIds: string[], opts?: { wantHolders?: boolean }): ClaimBatchAnswer {
    this.#batchArrived(userIds);
    const def = this.#def;
    if (!def) return { outcome: "unknown-event" };
    if (shardCount(def) > 1) throw new TypeError("a sharded event's claims go to its shards");
    for (const userId of userIds) assertUserId(userId);
    const now = this.clock.now();
    const rules = def.queue;
    if (rules) this.#advanceRoom(def, now);

    // Decided from memory and one read of the batch's holders, before any write: a batch of
    // refusals writes nothing and never waits for a storage flush.
    const held = this.#claims.byUsers([...new Set(userIds)]);
    const { results, fresh } = planClaims(
      def,
      this.#counters,
      now,
      userIds,
      held,
      () => newCouponId(def.id),
      rules ? (userId) => this.#room.admission(userId, rules, now) : undefined,
    );
    this.#issue(def, fresh, now);
    if (rules && fresh.length > 0) {
      // Used admissions make room for the next places.
      this.#room.issued(fresh.map((row) => row.user_id));
      this.#advanceRoom(def, now);
    }
    for (const result of results) {
      if (result.outcome === "refused") this.#rejections.count(result.refusal.slug);
    }
    return this.#decided(def, results, now, opts?.wantHolders === true);
  }

  /**
   * A shard's batch (docs/shards.md): decided like `claimBatch`, from the stock the shard holds
   * by lease. Users it has no stock for wait while it asks the coordinator for a lease (one ask
   * at a time; the others poll), and are decided again in their order; only the coordinator's
   * answer refuses them (sold-out, awaiting-release, ...). Below a low mark the shard asks for
   * more in the background.
   */
  async claimShare(userIds: string[], opts?: { wantHolders?: boolean }): Promise<ClaimBatchAnswer> {
    this.#batchArrived(userIds);
    const def = this.#def;
    const share = this.#share;
    if (!def || !share) return { outcome: "unknown-event" };
    for (const userId of userIds) assertUserId(userId);
    const results: ClaimDecision[] = [];
    let waiting = userIds.map((_, i) => i);
    const deadline = Date.now() + SHARE_DEADLINE_MS;
    while (waiting.length > 0) {
      const now = this.clock.now();
      waiting = this.#decideShare(def, share, userIds, waiting, results, now);
      if (waiting.length === 0) break;
      const answer = share.verdict(now) ?? (await this.#lease(def, share, waiting.length, true));
      if (answer?.outcome === "refused") {
        for (const i of waiting) {
          results[i] = { outcome: "refused", refusal: answer.refusal };
          this.#rejections.count(answer.refusal.slug);
        }
        break;
      }
      if (Date.now() > deadline) throw new Error(`${SHARD_BUSY} no stock lease came in time`);
    }
    this.#topUp(def, share);
    const now = this.clock.now();
    return this.#decided(def, results, now, opts?.wantHolders === true);
  }

  /** Coordinator: a shard asks for stock (lease-coordinator.ts). */
  lease(req: LeaseRequest): Promise<LeaseAnswer> {
    if (!this.#coordinator) throw new Error("this object coordinates no sharded event");
    return this.#coordinator.lease(req);
  }

  /** Shard: makes this object shard `shard` of the event; false when it holds another. */
  joinEvent(input: EventDefinition, shard: number): boolean {
    const def = eventDefinitionSchema.parse(input);
    if (!Number.isSafeInteger(shard) || shard < 0 || shard >= shardCount(def)) {
      throw new TypeError("shard out of range");
    }
    if (this.#def) return sameDefinition(this.#def, def) && this.#share?.shard === shard;
    const now = this.clock.now();
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        "INSERT INTO event (singleton, definition, created_at) VALUES (1, ?, ?)",
        JSON.stringify(def),
        now,
      );
      this.#share = LeaseShare.create(this.ctx.storage.sql, shard);
    });
    this.#def = def;
    return true;
  }

  /** Shard: what it was granted, gave back and issued (null: no shard). */
  shareTotals(): ShareTotals | null {
    return this.#share?.totals(this.#counters.issued) ?? null;
  }

  /**
   * Shard: a recall. Adopts the grants the coordinator recorded for it (one it lost in a restart
   * counts now, once), then gives back every unissued coupon, in one transaction.
   */
  giveBack(grants: Grant[]): ShareTotals | null {
    const share = this.#share;
    if (!share) return null;
    if (!Array.isArray(grants) || !grants.every(isGrant)) throw new TypeError("malformed grants");
    share.giveBack(grants, this.#counters.issued, (fn) => this.ctx.storage.transactionSync(fn));
    return share.totals(this.#counters.issued);
  }

  /** The event's snapshot; a sharded event's counts its shards first (at most every 200 ms). */
  async currentSnapshot(): Promise<EventSnapshot | null> {
    await this.#coordinator?.count();
    return this.snapshot();
  }

  /** The event's stats; a sharded event's sum its shards' (refusals, outboxes, sinks). */
  async currentStats(): Promise<StatsView | null> {
    const def = this.#def;
    const own = this.stats();
    if (!def || !own || !this.#coordinator) return own;
    const parts = await this.#coordinator.shardStats();
    const issued = parts.reduce((n, p) => n + p.claims.issued, 0);
    const now = this.clock.now();
    const event = eventView(def, { issued, paused: this.#counters.paused }, now);
    return sumStats(event, parts, own.claims.rejected);
  }

  /** The owner's coupon; null when unknown or another user's (both are a 404 to the caller). */
  coupon(couponId: string, userId: string): CouponView | null {
    if (!this.#def) return null;
    const row = this.#claims.byCoupon(couponId);
    return row && row.user_id === userId ? couponView(this.#def.id, row, this.clock.now()) : null;
  }

  /**
   * Redeems the owner's coupon for an order. `idempotencyKey` is scoped to the caller and the
   * coupon: the same key with the same order answers the same coupon again; with another order
   * it is refused. The decision, the row, the key and the outbox record: one transaction.
   */
  redeem(input: {
    couponId: string;
    userId: string;
    orderId: string;
    idempotencyKey: string;
  }): LifecycleAnswer {
    const { couponId, userId, orderId, idempotencyKey } = redeemInput.parse(input);
    return this.#change(couponId, userId, (row, now) => {
      const expired = now - IDEMPOTENCY_KEY_TTL_MS;
      const used = this.ctx.storage.sql
        .exec<{ order_id: string }>(
          "SELECT order_id FROM idempotency WHERE user_id = ? AND coupon_id = ? AND key = ? AND created_at > ?",
          userId,
          couponId,
          idempotencyKey,
          expired,
        )
        .toArray()[0];
      if (used && used.order_id !== orderId)
        return { kind: "refused", slug: "idempotency-key-reused" };
      const decision = decideRedeem(row, orderId, now);
      if (decision.kind !== "refused" && !used) {
        // Keys expire after 24 h (every coupon's, found by the created_at index) and only the
        // newest few per coupon are kept: a stream of fresh keys never grows storage.
        const sql = this.ctx.storage.sql;
        sql.exec("DELETE FROM idempotency WHERE created_at <= ?", expired);
        sql.exec(
          "INSERT INTO idempotency (user_id, coupon_id, key, order_id, created_at) VALUES (?, ?, ?, ?, ?)",
          userId,
          couponId,
          idempotencyKey,
          orderId,
          now,
        );
        sql.exec(
          `DELETE FROM idempotency WHERE user_id = ?1 AND coupon_id = ?2 AND rowid NOT IN
             (SELECT rowid FROM idempotency WHERE user_id = ?1 AND coupon_id = ?2
              ORDER BY created_at DESC, rowid DESC LIMIT ?3)`,
          userId,
          couponId,
          IDEMPOTENCY_KEYS_PER_COUPON,
        );
      }
      return decision;
    });
  }

  /** Reserves the owner's coupon for one order while its payment runs; lapses by itself. */
  hold(input: {
    couponId: string;
    userId: string;
    orderId: string;
    ttlSeconds: number;
  }): LifecycleAnswer {
    const { couponId, userId, orderId, ttlSeconds } = holdInput.parse(input);
    return this.#change(couponId, userId, (row, now) =>
      decideHold(row, orderId, ttlSeconds * 1000, now),
    );
  }

  /** Operator: the order was cancelled, the coupon is usable again. */
  restore(input: { couponId: string; orderId: string }): LifecycleAnswer {
    const { couponId, orderId } = restoreInput.parse(input);
    return this.#change(couponId, null, (row) => decideRestore(row, orderId));
  }

  /** Refusals an isolate answered for this event without calling it: they count in stats. */
  countRefusals(counts: Partial<Record<RefusalSlug, number>>): void {
    for (const [slug, n] of Object.entries(counts)) {
      if (!REFUSALS.has(slug) || !Number.isSafeInteger(n) || (n ?? 0) <= 0) continue;
      this.#rejections.count(slug as RefusalSlug, n);
    }
  }

  claimOf(userId: string): CouponView | null {
    if (!this.#def) return null;
    assertUserId(userId);
    const row = this.#claims.byUser(userId);
    return row ? couponView(this.#def.id, row, this.clock.now()) : null;
  }

  stats(): StatsView | null {
    if (!this.#def) return null;
    const now = this.clock.now();
    const room = this.#def.queue ? this.#room.state(this.#def, now) : undefined;
    return eventStats({
      event: eventView(this.#def, room ? { ...this.#counters, room } : this.#counters, now),
      issued: this.#counters.issued,
      rejected: this.#rejections.totals(),
      outbox: this.#outbox,
      status: this.#sinkStatus,
      sinks: this.sinks(),
      now,
    });
  }

  deadLetters(limit = 100): DeadLetter[] | null {
    return this.#def ? this.#outbox.deadLetters(limit) : null;
  }

  /** Operator action: retries every dead letter, with fresh attempts. */
  requeueDeadLetters(): { requeued: number } | null {
    if (!this.#def) return null;
    const requeued = this.ctx.storage.transactionSync(() =>
      this.#outbox.requeueDeadLetters(this.clock.now()),
    );
    if (requeued > 0) this.#alarm.drainSoon();
    return { requeued };
  }

  /** The event's dead letters: a sharded event's, gathered from its shards. */
  async currentDeadLetters(limit = 100): Promise<DeadLetter[] | null> {
    const own = this.deadLetters(limit);
    if (!own || !this.#coordinator) return own;
    const parts = await Promise.all(
      this.#coordinator.shards().map(([, shard]) => shard.deadLetters(limit)),
    );
    return [...own, ...parts.flatMap((part) => part ?? [])].slice(0, limit);
  }

  /** Operator action on the whole event: a sharded event's shards each retry theirs. */
  async requeueAllDeadLetters(): Promise<{ requeued: number } | null> {
    const own = this.requeueDeadLetters();
    if (!own || !this.#coordinator) return own;
    const parts = await Promise.all(
      this.#coordinator.shards().map(([, shard]) => shard.requeueDeadLetters()),
    );
    return { requeued: parts.reduce((n, part) => n + (part?.requeued ?? 0), own.requeued) };
  }

  /**
   * Drains the outbox one step at a time. Sink failures never escape (the platform's own alarm
   * retries stop after a few attempts): the next alarm is always set here, last.
   */
  override async alarm(): Promise<void> {
    const def = this.#def;
    let next: number | null;
    this.#releaseLapsedHolds();
    if (def) this.#advanceRoom(def, this.clock.now());
    try {
      next = def
        ? await drainStep({
            outbox: this.#outbox,
            status: this.#sinkStatus,
            sinks: this.sinks(),
            event: def,
            policy: this.#services.config.sinks.drain,
            transaction: (fn) => this.ctx.storage.transactionSync(fn),
            clock: this.clock,
            afterDelivery: this.afterDelivery(),
          })
        : null;
    } catch (err) {
      console.error(
        JSON.stringify({ level: "error", msg: "drain step failed", error: String(err) }),
      );
      next = Date.now() + DRAIN_ERROR_RETRY_MS;
    }
    // Not awaited: a slow or absent Redis must never slow the drain.
    this.#publications.summary(next === null);
    await this.#alarm.afterRun(next, earliest(this.#nextHoldLapse(), this.#nextRoomDue()));
  }

  // Seams for the test subclass (test/worker/test-coupon-event.ts); plain in production.

  /** The configured sinks. */
  protected sinks(): Sinks {
    return this.#services.sinks;
  }

  /** Runs after a sink answered and before the outbox records it; none in production. */
  protected afterDelivery(): (() => Promise<void>) | undefined {
    return undefined;
  }

  /** `count` users' claims reached this object in one call. */
  protected claimsArrived(_count: number): void {}

  /** A report of `count` joins reached this object (waiting room). */
  protected joinReportArrived(_count: number): void {}

  /** An isolate asked for the room's table. */
  protected roomTableAsked(): void {}

  /** Draws, lapses and admits as due; publishes and wakes the object for the next step. */
  #advanceRoom(def: EventDefinition, now: number): void {
    if (!def.queue) return;
    const changed = this.ctx.storage.transactionSync(() =>
      this.#room.advance(def, this.#counters, now),
    );
    if (changed) this.#publications.snapshotSoon();
    this.#alarm.noLaterThan(this.#nextRoomDue());
  }

  /** When the room next needs the alarm, in real time, or null. */
  #nextRoomDue(): number | null {
    return this.#def ? realTime(this.#room.nextDue(this.#def), this.clock) : null;
  }

  #load(): void {
    const row = this.ctx.storage.sql
      .exec<{ definition: string; paused: number; issued: number; pause_changes: number }>(
        "SELECT definition, paused, issued, pause_changes FROM event",
      )
      .toArray()[0];
    if (!row) return;
    this.#def = eventDefinitionSchema.parse(JSON.parse(row.definition));
    this.#counters = { issued: row.issued, paused: row.paused === 1 };
    this.#pauseChanges = row.pause_changes;
  }

  /** A sharded event's object is its coordinator unless it joined as one of its shards. */
  #roles(): void {
    const def = this.#def;
    if (!def || shardCount(def) <= 1 || this.#share || this.#coordinator) return;
    this.#coordinator = new LeaseCoordinator({
      env: this.env,
      sql: this.ctx.storage.sql,
      transaction: (fn) => this.ctx.storage.transactionSync(fn),
      clock: () => this.clock,
      def: () => this.#def,
      paused: () => this.#counters.paused,
      changed: () => this.#publications.snapshotSoon(),
    });
  }

  async #joinShards(def: EventDefinition): Promise<void> {
    await this.#coordinator?.join(def);
    if (this.#counters.paused) await this.#coordinator?.pauseAll(true);
  }

  /** New coupons and the counter in one transaction; memory follows storage last. */
  #issue(def: EventDefinition, fresh: CouponRow[], now: number): void {
    if (fresh.length === 0) return;
    this.ctx.storage.transactionSync(() => {
      this.#claims.insert(fresh, now, def.couponExpiresAt);
      this.ctx.storage.sql.exec("UPDATE event SET issued = issued + ?", fresh.length);
    });
    // If the transaction throws, the counter is untouched.
    this.#counters.issued += fresh.length;
    this.#share?.issuedAt(fresh.length, now);
    this.#alarm.drainSoon();
    this.#publications.snapshotSoon();
  }

  /**
   * One round of a shard's batch: decides the `waiting` users (indices into `userIds`) from the
   * leased stock, writes their coupons, fills `results`; gives back those it had no stock for.
   */
  #decideShare(
    def: EventDefinition,
    share: LeaseShare,
    userIds: string[],
    waiting: number[],
    results: ClaimDecision[],
    now: number,
  ): number[] {
    const ids = waiting.map((i) => userIds[i] as string);
    const held = this.#claims.byUsers([...new Set(ids)]);
    const plan = planClaims(shareDefinition(def, share.limit), this.#counters, now, ids, held, () =>
      newCouponId(def.id, share.shard),
    );
    this.#issue(def, plan.fresh, now);
    const lacking: number[] = [];
    plan.results.forEach((decision, j) => {
      const i = waiting[j] as number;
      // Planned against the leased stock, "sold out" only means "none leased left".
      if (decision.outcome === "refused" && decision.refusal.slug === "sold-out") lacking.push(i);
      else {
        results[i] = decision;
        if (decision.outcome === "refused") this.#rejections.count(decision.refusal.slug);
      }
    });
    return lacking;
  }

  /**
   * One lease request at a time per shard: null when another was under way (this one waited for
   * it to end; the caller decides again). `urgent`: the shard has users waiting with no stock, so
   * the coordinator may recall other shards' remainders for them.
   */
  async #lease(
    def: EventDefinition,
    share: LeaseShare,
    need: number,
    urgent: boolean,
  ): Promise<LeaseAnswer | null> {
    if (share.leasing) {
      await waitForLease(share);
      return null;
    }
    share.leasing = true;
    try {
      const seq = share.nextSeq;
      const want = Math.max(need, leaseWant(def, share.rate(Date.now())));
      const answer = await coordinatorOf(this.env, def).lease({
        shard: share.shard,
        seq,
        want,
        urgent,
        ...share.totals(this.#counters.issued),
      });
      if (answer.outcome === "granted" && answer.granted > 0) {
        this.ctx.storage.transactionSync(() => share.adopt({ seq, granted: answer.granted }));
      } else if (answer.outcome === "refused") share.keepVerdict(answer);
      else {
        share.quiet(Date.now());
        // Stock is moving between shards: give it a moment before the caller asks again.
        if (urgent) await pauseFor(RETRY_PAUSE_MS);
      }
      return answer;
    } finally {
      share.leasing = false;
    }
  }

  /** Below the low mark, asks for more stock without making any claim wait for it. */
  #topUp(def: EventDefinition, share: LeaseShare): void {
    const now = Date.now();
    if (share.leasing || share.isQuiet(now) || share.verdict(this.clock.now())) return;
    const want = leaseWant(def, share.rate(now));
    if (share.limit - this.#counters.issued >= lowMark(want)) return;
    this.#lease(def, share, 1, false).catch((err: unknown) => {
      console.warn(
        JSON.stringify({ level: "warn", msg: "lease top-up failed", error: String(err) }),
      );
    });
  }

  /** The outbox summary this object publishes: a shard's under its own name. */
  #summaryStats(): StatsView | null {
    const stats = this.stats();
    const share = this.#share;
    if (!stats || !share) return stats;
    return { ...stats, event: { ...stats.event, id: `${stats.event.id}/s${share.shard}` } };
  }

  /** Decides and applies one change of a coupon (`owner` null: an operator's change). */
  #change(
    couponId: string,
    owner: string | null,
    decide: (
      row: CouponRow,
      now: number,
    ) => Decision | { kind: "refused"; slug: "idempotency-key-reused" },
  ): LifecycleAnswer {
    const def = this.#def;
    if (!def) return { outcome: "unknown-event" };
    const now = this.clock.now();
    const answer = this.ctx.storage.transactionSync((): LifecycleAnswer => {
      const row = this.#claims.byCoupon(couponId);
      if (!row || (owner !== null && row.user_id !== owner)) {
        return { outcome: "refused", slug: "not-found" };
      }
      const decision = decide(row, now);
      if (decision.kind === "refused") return { outcome: "refused", slug: decision.slug };
      if (decision.kind === "same") return { outcome: "ok", coupon: couponView(def.id, row, now) };
      return { outcome: "ok", coupon: this.#apply(def, row, decision.change, now) };
    });
    this.#alarm.drainSoon();
    this.#alarm.noLaterThan(this.#nextHoldLapse());
    return answer;
  }

  /** Writes a change to the row and its record to the outbox (inside the caller's transaction). */
  #apply(def: EventDefinition, row: CouponRow, change: CouponChange, now: number): CouponView {
    const next: CouponRow = { ...row, ...change, version: row.version + 1 };
    this.#claims.update(next);
    const coupon = couponView(def.id, next, now);
    const record: CouponRecord = { type: change.type, schemaVersion: 1, coupon, at: iso(now) };
    this.#outbox.add(coupon.id, next.version, record, now);
    return coupon;
  }

  /** Releases every hold whose time is up, each with its record (the alarm calls it). */
  #releaseLapsedHolds(): void {
    const def = this.#def;
    if (!def) return;
    const now = this.clock.now();
    this.ctx.storage.transactionSync(() => {
      for (const row of this.#claims.lapsedHolds(now)) {
        const decision = decideHoldLapse(row, now);
        if (decision.kind === "change") this.#apply(def, row, decision.change, now);
      }
    });
  }

  /** When the next hold lapses, in real time (the clock may be a test's), or null. */
  #nextHoldLapse(): number | null {
    return realTime(this.#claims.nextHoldEnd(), this.clock);
  }

  /** A claim batch (either path) is checked for its size and counted as it arrives. */
  #batchArrived(userIds: string[]): void {
    if (!Array.isArray(userIds) || userIds.length > MAX_CLAIM_BATCH) {
      throw new TypeError(`userIds must be an array of at most ${MAX_CLAIM_BATCH} user ids`);
    }
    this.claimsArrived(userIds.length);
  }

  /** A decided batch's answer: with the counters, and the holders' filter once final if asked. */
  #decided(
    def: EventDefinition,
    results: ClaimDecision[],
    now: number,
    wantHolders: boolean,
  ): ClaimBatchAnswer {
    const answer: ClaimBatchAnswer = {
      outcome: "decided",
      results,
      counters: this.#countersAt(now),
    };
    if (wantHolders && this.#holdersFinal(def, now)) {
      const holders = this.#holdersFilter();
      if (holders) answer.holders = holders;
    }
    return answer;
  }

  #countersAt(now: number): EventCounters {
    // A coordinator counts its shards' coupons (as last counted: never above the truth).
    const issued = this.#coordinator ? this.#coordinator.issued : this.#counters.issued;
    const counters: EventCounters = {
      issued,
      paused: this.#counters.paused,
      version: issued + this.#pauseChanges,
      asOf: now,
    };
    if (this.#def?.queue) {
      counters.room = this.#room.state(this.#def, now);
      // The seed's reveal at startsAt is a change too: isolates must not keep the hidden copy.
      counters.version += counters.room.changes + (counters.room.seed === null ? 0 : 1);
    }
    return counters;
  }

  #snapshot(def: EventDefinition, now: number): EventSnapshot {
    return {
      def,
      ...this.#countersAt(now),
      // A coordinator holds no coupons: each shard sends its own holders (the edge keeps them).
      holders: !this.#coordinator && this.#holdersFinal(def, now) ? this.#holdersFilter() : null,
    };
  }

  /** No coupon can be issued any more, so the set of holders can no longer change. */
  #holdersFinal(def: EventDefinition, now: number): boolean {
    return (
      this.#counters.issued >= def.totalStock ||
      (def.endsAt !== null && now >= def.endsAt) ||
      this.#share?.verdict(now)?.refusal.slug === "sold-out"
    );
  }

  #holdersFilter(): HoldersFilter | null {
    if (this.#holders || this.#counters.issued > MAX_FILTERED_HOLDERS) return this.#holders;
    this.#holders = buildHoldersFilter(this.#claims.userIds(), this.#counters.issued);
    return this.#holders;
  }
}

function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function isGrant(g: unknown): g is Grant {
  const grant = g as Partial<Grant> | null;
  return (
    typeof grant === "object" &&
    grant !== null &&
    Number.isSafeInteger(grant.seq) &&
    Number.isSafeInteger(grant.granted) &&
    (grant.seq ?? -1) >= 0 &&
    (grant.granted ?? 0) > 0
  );
}

function assertUserId(userId: string): void {
  // The Worker refuses such subs with 401; this guards the object's own storage as well.
  const fault = userIdFault(userId);
  if (fault !== null) throw new TypeError(`userId ${fault}`);
}

// RPC is a boundary too: the Worker validated these, the object checks them again.
const orderId = z.string().min(1).max(ORDER_ID_MAX_LENGTH).refine(isWellFormed);
const couponId = z.string().regex(COUPON_ID_PATTERN);
const userId = z.string().refine((id) => userIdFault(id) === null);
const redeemInput = z.object({
  couponId,
  userId,
  orderId,
  idempotencyKey: z.string().min(1).max(IDEMPOTENCY_KEY_MAX_LENGTH).refine(isWellFormed),
});
const holdInput = z.object({
  couponId,
  userId,
  orderId,
  ttlSeconds: z.number().int().min(1).max(HOLD_TTL_MAX_SECONDS),
});
const restoreInput = z.object({ couponId, orderId });
