import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import type { RateBudget } from "../../platform/config.ts";
import { pollUntil } from "./poll-until.ts";

/** What one check decided, and what the `RateLimit` headers say about it. */
export interface RateDecision {
  allowed: boolean;
  policy: string;
  limit: number;
  windowSeconds: number;
  /** Requests left in this window (as far as this isolate knows). */
  remaining: number;
  /** Whole seconds until the window resets (at least 1). */
  resetSeconds: number;
}

interface KeyState {
  /** Index of the fixed window this state is about. */
  window: number;
  /** Requests served here and not yet counted in Redis. */
  unreported: number;
  /** Requests already counted in Redis (leased) and not yet served. */
  prepaid: number;
  /** Remaining as Redis last said (before the lease was taken from it). */
  remaining: number;
  /** A Redis check of this key under way (a token): others wait for it, never on its promise. */
  syncing: object | null;
}

/** Isolate-local state is dropped past this many keys; the next request of each syncs again. */
const MAX_KEYS = 50_000;
/** A check older than its timeout plus this is taken as lost (its request went away). */
const SYNC_GRACE_MS = 100;
/** A shared key (an address) takes this fraction of its budget per Redis check. */
export const LEASES_PER_WINDOW = 50;

/**
 * A fixed-window budget shared by every isolate through Redis (`@upstash/ratelimit`), counted
 * locally first so that most requests cost no Redis round trip:
 *
 * - the first request of a key in a window is served at once and reported with the next check;
 * - a key's next request checks Redis for itself plus everything unreported, and takes a lease of
 *   `lease` requests, so a busy key (an office's address) syncs once per lease, not per request;
 *   while that check is out, up to one more lease passes (reported with the next check), so a
 *   crowd behind one address never waits on the round trip (per-user keys lease 1 and wait);
 * - a key Redis refused is refused here until its window resets, without asking again (the
 *   library's ephemeral cache).
 *
 * So a crowd clicking once each never waits on Redis, while one caller hammering is stopped at
 * its budget. Across isolates a key can go over by at most two leases per isolate. If Redis is
 * slow or down the check fails open after `timeoutMs` (the service stays up; `/health` shows it).
 */
export class LocalFirstLimiter {
  readonly #ratelimit: Ratelimit;
  readonly #budget: RateBudget;
  readonly #lease: number;
  readonly #timeoutMs: number;
  readonly #policy: string;
  readonly #prefix: string;
  readonly #windowMs: number;
  readonly #keys = new Map<string, KeyState>();
  /** Keys refused until this time (epoch ms), kept by the library between calls. */
  readonly #blocked = new Map<string, number>();

  constructor(opts: {
    redis: Redis;
    policy: string;
    budget: RateBudget;
    timeoutMs: number;
    /** Requests a key may take per Redis check; 1 for per-user budgets. */
    lease: number;
  }) {
    this.#budget = opts.budget;
    this.#policy = opts.policy;
    this.#lease = Math.max(1, Math.min(opts.lease, opts.budget.limit));
    this.#timeoutMs = opts.timeoutMs;
    this.#windowMs = opts.budget.windowSeconds * 1000;
    this.#prefix = `coupon:ratelimit:${opts.policy}`;
    this.#ratelimit = new Ratelimit({
      redis: opts.redis,
      limiter: Ratelimit.fixedWindow(opts.budget.limit, `${opts.budget.windowSeconds} s`),
      prefix: this.#prefix,
      ephemeralCache: this.#blocked,
      timeout: opts.timeoutMs,
      analytics: false,
    });
  }

  async check(key: string, now = Date.now()): Promise<RateDecision> {
    const window = Math.floor(now / this.#windowMs);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * this.#windowMs - now) / 1000));
    let state = this.#keys.get(key);
    if (!state || state.window !== window) {
      state = {
        window,
        unreported: 0,
        prepaid: 0,
        remaining: this.#budget.limit,
        syncing: null,
      };
      this.#remember(key, state);
    }
    const decide = (allowed: boolean): RateDecision => ({
      allowed,
      policy: this.#policy,
      limit: this.#budget.limit,
      windowSeconds: this.#budget.windowSeconds,
      remaining: Math.max(0, state.remaining + state.prepaid - state.unreported),
      resetSeconds,
    });
    // The library keeps refused keys under its own (prefixed) name.
    if ((this.#blocked.get(`${this.#prefix}:${key}`) ?? 0) > now) return decide(false);
    if (state.prepaid > 0) {
      state.prepaid -= 1;
      return decide(true);
    }
    if (state.unreported === 0 && state.remaining === this.#budget.limit) {
      state.unreported = 1;
      return decide(true);
    }
    const syncing = state.syncing;
    if (syncing && this.#lease > 1 && state.unreported < this.#lease) {
      // A busy shared key (an address) while its check is out: up to one more lease passes now,
      // reported with the next check, instead of a crowd waiting on one Redis round trip.
      state.unreported += 1;
      return decide(true);
    }
    if (syncing) {
      // One check at a time; the others take from the lease it brings (per-user keys: exact).
      const over = await pollUntil(
        () => state.syncing !== syncing,
        this.#timeoutMs + SYNC_GRACE_MS,
      );
      // Never over: its request went away, and the next one checks instead.
      if (!over) state.syncing = null;
      return this.check(key, Date.now());
    }
    const rate = state.unreported + this.#lease;
    state.unreported = 0;
    const mine = {};
    state.syncing = mine;
    const result = await this.#limit(key, rate).finally(() => {
      if (state.syncing === mine) state.syncing = null;
    });
    if (!result) return decide(true); // Redis trouble: fail open
    if (result.success) {
      state.prepaid = this.#lease - 1;
      state.remaining = Math.max(0, result.remaining);
      return decide(true);
    }
    // A lease larger than what was left fails whole: the last sliver of a busy key's window
    // (under 1/LEASES_PER_WINDOW of it) may be refused early. Per-user budgets lease 1: exact.
    state.remaining = 0;
    return decide(false);
  }

  async #limit(key: string, rate: number) {
    try {
      const result = await this.#ratelimit.limit(key, { rate });
      return result.reason === "timeout" ? null : result;
    } catch {
      return null;
    }
  }

  #remember(key: string, state: KeyState): void {
    if (this.#keys.size >= MAX_KEYS) this.#keys.clear();
    // Refused keys too: the library forgets one only when asked about it again; Redis still knows.
    if (this.#blocked.size >= MAX_KEYS) this.#blocked.clear();
    this.#keys.set(key, state);
  }
}

/** `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) for some decisions. */
export function rateLimitHeaders(decisions: RateDecision[]): Record<string, string> {
  return {
    "RateLimit-Policy": decisions
      .map((d) => `"${d.policy}";q=${d.limit};w=${d.windowSeconds}`)
      .join(", "),
    RateLimit: decisions
      .map((d) => `"${d.policy}";r=${d.remaining};t=${d.resetSeconds}`)
      .join(", "),
  };
}
