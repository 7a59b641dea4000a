import { DurableObject } from "cloudflare:workers";
import { publishOutboxSummary } from "../src/lib/outbox-registry.ts";
import { redisFor } from "../src/lib/redis.ts";
import { sinkConfigFrom } from "../src/sinks/config.ts";
import { sinksFor } from "../src/sinks/index.ts";
import { withTimeout } from "../src/sinks/timeout.ts";
import type { CouponRecord, SinkName } from "../src/sinks/types.ts";
import { type Clock, systemClock } from "./clock.ts";
import { newCouponId } from "./coupon-id.ts";
import { eventDefinitionSchema, sameDefinition } from "./definition.ts";
import { drainStep } from "./drain.ts";
import { type EventDefinition, type LedgerCounters, type RefusalSlug, refuse } from "./ledger.ts";
import { type DeadLetter, Outbox, SINK_NAMES } from "./outbox.ts";
import { SinkStatusStore } from "./sink-status.ts";
import { migrate } from "./storage-schema.ts";
import {
  type ClaimResult,
  type CouponRow,
  type CouponView,
  couponView,
  type DefineResult,
  type EventView,
  eventView,
  iso,
  isoOrNull,
  type SinkView,
  type StatsView,
} from "./views.ts";

/** How long a claim waits before the drain starts, so that a rush drains in batches. */
const DRAIN_DELAY_MS = 25;
/** After an unexpected drain error (a bug, not a sink failure), try again this much later. */
const DRAIN_ERROR_RETRY_MS = 1_000;
/** The outbox summary for `GET /health` is published at most this often while rows are pending. */
const SUMMARY_EVERY_MS = 1_000;

/**
 * One first-come-first-served event. The only writer of its stock: every claim is decided and
 * recorded (claim row, outbox row, counter) in one synchronous SQLite transaction, with no
 * `await` in between, so no interleaving can oversell. Hot counters live in memory and are
 * rebuilt from storage whenever the object starts. An alarm drains the outbox to the sinks.
 */
export class CouponEvent extends DurableObject<Env> {
  /** Where time comes from; tests replace it with a ManualClock. */
  clock: Clock = systemClock;
  /** Test seams (set through `runInDurableObject`); empty in production. */
  testHooks: { afterDelivery?: () => Promise<void> } = {};
  #def: EventDefinition | null = null;
  #counters: LedgerCounters = { issued: 0, paused: false };
  readonly #outbox: Outbox;
  readonly #sinkStatus: SinkStatusStore;
  /** When the drain alarm is due; non-null while one is scheduled or running. */
  #drainAt: number | null = null;
  #summaryPublishedAt = 0;
  #publishing = false;
  #republishIdle = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // SQLite storage is synchronous, so loading here completes before any call is delivered.
    migrate(ctx.storage.sql);
    this.#outbox = new Outbox(ctx.storage.sql);
    this.#sinkStatus = new SinkStatusStore(ctx.storage.sql);
    this.#load();
    ctx.blockConcurrencyWhile(async () => {
      this.#drainAt = await ctx.storage.getAlarm();
      // A restart must never strand rows: make sure a drain is coming if any are waiting.
      if (this.#drainAt === null && this.#outbox.pending().pending > 0) this.#scheduleDrain();
    });
  }

  /** Creates the event, or confirms an identical earlier create. */
  define(input: EventDefinition): DefineResult {
    const def = eventDefinitionSchema.parse(input);
    const now = this.clock.now();
    if (this.#def) {
      const outcome = sameDefinition(this.#def, def) ? "unchanged" : "conflict";
      return { outcome, event: this.#view(this.#def, now) };
    }
    this.ctx.storage.sql.exec(
      "INSERT INTO event (singleton, definition, created_at) VALUES (1, ?, ?)",
      JSON.stringify(def),
      now,
    );
    this.#def = def;
    return { outcome: "created", event: this.#view(def, now) };
  }

  event(): EventView | null {
    return this.#def ? this.#view(this.#def, this.clock.now()) : null;
  }

  /** Pauses or resumes at once; repeating either is harmless. */
  setPaused(paused: boolean): EventView | null {
    if (!this.#def) return null;
    this.ctx.storage.sql.exec("UPDATE event SET paused = ?", paused ? 1 : 0);
    this.#counters.paused = paused;
    return this.#view(this.#def, this.clock.now());
  }

  claim(userId: string): ClaimResult {
    const def = this.#def;
    if (!def) return { outcome: "unknown-event" };
    assertUserId(userId);
    const now = this.clock.now();
    const result = this.ctx.storage.transactionSync((): ClaimResult => {
      const existing = this.#claimRow(userId);
      if (existing) return { outcome: "existing", coupon: couponView(def.id, existing, now) };

      const refusal = refuse(def, this.#counters, now);
      if (refusal) {
        this.#countRejection(refusal.slug);
        return { outcome: "refused", refusal };
      }

      const row: CouponRow = {
        coupon_id: newCouponId(),
        user_id: userId,
        issued_at: now,
        expires_at: def.couponExpiresAt,
        status: "issued",
        redeemed_at: null,
        order_id: null,
      };
      this.ctx.storage.sql.exec(
        "INSERT INTO claims (user_id, coupon_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
        row.user_id,
        row.coupon_id,
        row.issued_at,
        row.expires_at,
      );
      const coupon = couponView(def.id, row, now);
      const record: CouponRecord = {
        type: "coupon.issued",
        schemaVersion: 1,
        coupon,
        at: iso(now),
      };
      this.#outbox.add(coupon.id, 1, record, now);
      this.ctx.storage.sql.exec("UPDATE event SET issued = issued + 1");
      // Memory follows storage last: if anything above throws, the counter is untouched.
      this.#counters.issued += 1;
      return { outcome: "issued", coupon };
    });
    if (result.outcome === "issued") this.#scheduleDrain();
    return result;
  }

  claimOf(userId: string): CouponView | null {
    if (!this.#def) return null;
    assertUserId(userId);
    const row = this.#claimRow(userId);
    return row ? couponView(this.#def.id, row, this.clock.now()) : null;
  }

  stats(): StatsView | null {
    if (!this.#def) return null;
    const now = this.clock.now();
    const rejected: Record<string, number> = {};
    for (const r of this.ctx.storage.sql.exec<{ slug: string; n: number }>(
      "SELECT slug, n FROM rejections",
    )) {
      rejected[r.slug] = r.n;
    }
    const outbox = this.#outbox.pending();
    const sinks = {} as Record<SinkName, SinkView>;
    for (const sink of SINK_NAMES) sinks[sink] = this.#sinkView(sink, now);
    return {
      event: this.#view(this.#def, now),
      claims: { issued: this.#counters.issued, rejected },
      outbox: {
        pending: outbox.pending,
        oldestAgeMs: ageMs(outbox.oldestCreatedAt, now),
        deadLetters: sinks.mysql.deadLetters + sinks.kafka.deadLetters,
      },
      sinks,
    };
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
    if (requeued > 0) this.#scheduleDrain();
    return { requeued };
  }

  /**
   * Drains the outbox one step at a time. Sink failures never escape (the platform's own alarm
   * retries stop after a few attempts): the next alarm is always set here, last.
   */
  override async alarm(): Promise<void> {
    const def = this.#def;
    let next: number | null;
    try {
      next = def
        ? await drainStep({
            outbox: this.#outbox,
            status: this.#sinkStatus,
            sinks: sinksFor(this.env),
            event: def,
            policy: sinkConfigFrom(this.env).drain,
            transaction: (fn) => this.ctx.storage.transactionSync(fn),
            afterDelivery: this.testHooks.afterDelivery,
          })
        : null;
    } catch (err) {
      console.error(
        JSON.stringify({ level: "error", msg: "drain step failed", error: String(err) }),
      );
      next = Date.now() + DRAIN_ERROR_RETRY_MS;
    }
    // Not awaited: a slow or absent Redis must never slow the drain.
    this.#publishSummary(next === null);
    this.#drainAt = next;
    if (next === null) return;
    try {
      await this.ctx.storage.setAlarm(next);
    } catch (err) {
      // Let the next claim schedule a drain again rather than believe one is coming.
      this.#drainAt = null;
      throw err;
    }
  }

  /** Best effort, one at a time: health reads it; a Redis outage must never stop the drain. */
  #publishSummary(idle: boolean): void {
    const redis = redisFor(this.env);
    const now = Date.now();
    if (!redis) return;
    if (this.#publishing) {
      // The final, idle state must not be lost behind an earlier summary still on its way.
      this.#republishIdle ||= idle;
      return;
    }
    if (!idle && now - this.#summaryPublishedAt < SUMMARY_EVERY_MS) return;
    const stats = this.stats();
    if (!stats) return;
    const summary = { eventId: stats.event.id, at: now, outbox: stats.outbox, sinks: stats.sinks };
    this.#publishing = true;
    this.#summaryPublishedAt = now;
    this.ctx.waitUntil(
      withTimeout(publishOutboxSummary(redis, summary), 2_000, "outbox summary")
        .catch((err: unknown) => {
          this.#summaryPublishedAt = 0;
          console.warn(
            JSON.stringify({
              level: "warn",
              msg: "outbox summary not published",
              error: String(err),
            }),
          );
        })
        .finally(() => {
          this.#publishing = false;
          if (this.#republishIdle) {
            this.#republishIdle = false;
            this.#publishSummary(true);
          }
        }),
    );
  }

  #scheduleDrain(): void {
    if (this.#drainAt !== null) return;
    this.#drainAt = Date.now() + DRAIN_DELAY_MS;
    void this.ctx.storage.setAlarm(this.#drainAt);
  }

  #sinkView(sink: SinkName, now: number): SinkView {
    const status = this.#sinkStatus.get(sink);
    const backlog = this.#outbox.backlog(sink);
    const enabled = sinksFor(this.env)[sink] !== null;
    return {
      state: !enabled
        ? "disabled"
        : status.failures > 0 || this.#hasRetries(sink)
          ? "retrying"
          : "ok",
      delivered: status.delivered,
      lastError: status.lastError,
      lastDeliveredAt: isoOrNull(status.lastDeliveredAt),
      backlog: enabled ? backlog.pending : 0,
      oldestPendingAgeMs: enabled ? ageMs(backlog.oldestCreatedAt, now) : 0,
      deadLetters: this.#outbox.deadLetterCount(sink),
    };
  }

  #hasRetries(sink: SinkName): boolean {
    return (this.#outbox.nextDue(sink) ?? 0) > Date.now();
  }

  #load(): void {
    const row = this.ctx.storage.sql
      .exec<{ definition: string; paused: number; issued: number }>(
        "SELECT definition, paused, issued FROM event",
      )
      .toArray()[0];
    if (!row) return;
    this.#def = eventDefinitionSchema.parse(JSON.parse(row.definition));
    this.#counters = { issued: row.issued, paused: row.paused === 1 };
  }

  #view(def: EventDefinition, now: number): EventView {
    return eventView(def, this.#counters, now);
  }

  #claimRow(userId: string): CouponRow | undefined {
    return this.ctx.storage.sql
      .exec<CouponRow>(
        "SELECT coupon_id, user_id, issued_at, expires_at, status, redeemed_at, order_id FROM claims WHERE user_id = ?",
        userId,
      )
      .toArray()[0];
  }

  #countRejection(slug: RefusalSlug): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO rejections (slug, n) VALUES (?, 1) ON CONFLICT (slug) DO UPDATE SET n = n + 1",
      slug,
    );
  }
}

function ageMs(since: number | null, now: number): number {
  return since === null ? 0 : Math.max(0, now - since);
}

function assertUserId(userId: string): void {
  // The Worker refuses such subs with 401; this guards the object's own storage as well.
  if (
    typeof userId !== "string" ||
    userId.length < 1 ||
    userId.length > 128 ||
    !userId.isWellFormed()
  ) {
    throw new TypeError("userId must be a well-formed string of 1..128 characters");
  }
}
