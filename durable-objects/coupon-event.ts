import { DurableObject } from "cloudflare:workers";
import { type Clock, systemClock } from "./clock.ts";
import { newCouponId } from "./coupon-id.ts";
import { eventDefinitionSchema, sameDefinition } from "./definition.ts";
import { type EventDefinition, type LedgerCounters, type RefusalSlug, refuse } from "./ledger.ts";
import { migrate } from "./storage-schema.ts";
import {
  type ClaimResult,
  type CouponRow,
  type CouponView,
  couponView,
  type DefineResult,
  disabledSink,
  type EventView,
  eventView,
  iso,
  type StatsView,
} from "./views.ts";

const OUTBOX_SCHEMA_VERSION = 1;

/**
 * One first-come-first-served event. The only writer of its stock: every claim is decided and
 * recorded (claim row, outbox row, counter) in one synchronous SQLite transaction, with no
 * `await` in between, so no interleaving can oversell. Hot counters live in memory and are
 * rebuilt from storage whenever the object starts.
 */
export class CouponEvent extends DurableObject<Env> {
  /** Where time comes from; tests replace it with a ManualClock. */
  clock: Clock = systemClock;
  #def: EventDefinition | null = null;
  #counters: LedgerCounters = { issued: 0, paused: false };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // SQLite storage is synchronous, so loading here completes before any call is delivered.
    migrate(ctx.storage.sql);
    this.#load();
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
    return this.ctx.storage.transactionSync((): ClaimResult => {
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
      const sql = this.ctx.storage.sql;
      sql.exec(
        "INSERT INTO claims (user_id, coupon_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
        row.user_id,
        row.coupon_id,
        row.issued_at,
        row.expires_at,
      );
      const coupon = couponView(def.id, row, now);
      const record = {
        type: "coupon.issued",
        schemaVersion: OUTBOX_SCHEMA_VERSION,
        coupon,
        at: iso(now),
      };
      sql.exec(
        "INSERT INTO outbox (coupon_id, payload, created_at) VALUES (?, ?, ?)",
        row.coupon_id,
        JSON.stringify(record),
        now,
      );
      sql.exec("UPDATE event SET issued = issued + 1");
      // Memory follows storage last: if anything above throws, the counter is untouched.
      this.#counters.issued += 1;
      return { outcome: "issued", coupon };
    });
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
    const sql = this.ctx.storage.sql;
    const rejected: Record<string, number> = {};
    for (const r of sql.exec<{ slug: string; n: number }>("SELECT slug, n FROM rejections")) {
      rejected[r.slug] = r.n;
    }
    const outbox = sql
      .exec<{ pending: number; oldest: number | null }>(
        "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM outbox",
      )
      .one();
    return {
      event: this.#view(this.#def, now),
      claims: { issued: this.#counters.issued, rejected },
      outbox: {
        pending: outbox.pending,
        oldestAgeMs: outbox.oldest === null ? 0 : Math.max(0, now - outbox.oldest),
      },
      sinks: { mysql: disabledSink, kafka: disabledSink },
    };
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

function assertUserId(userId: string): void {
  if (typeof userId !== "string" || userId.length < 1 || userId.length > 128) {
    throw new TypeError("userId must be a string of 1..128 characters");
  }
}
