import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { RateBudget, RateLimitConfig } from "../../platform/config.ts";
import { redisFor } from "../../platform/redis.ts";
import type { HonoEnv } from "../hono-env.ts";
import {
  LEASES_PER_WINDOW,
  LocalFirstLimiter,
  type RateDecision,
  rateLimitHeaders,
} from "../lib/rate-limit.ts";
import { ProblemError } from "../problems.ts";

interface Limits {
  perAddress: LocalFirstLimiter;
  /** Routes with a per-address budget of their own, matched on the path. */
  routes: { method: string; path: RegExp; limiter: LocalFirstLimiter }[];
  claimPerUser: LocalFirstLimiter;
}

// Limiters live as long as the isolate: their local counts and ephemeral caches are the point.
const limitsByEnv = new WeakMap<object, Limits | null>();

function limitsFor(c: Context<HonoEnv>): Limits | null {
  if (limitsByEnv.has(c.env)) return limitsByEnv.get(c.env) ?? null;
  const redis = redisFor(c.env);
  const config: RateLimitConfig = c.var.config.rateLimit;
  const limiter = (policy: string, budget: RateBudget, lease: number) =>
    redis
      ? new LocalFirstLimiter({ redis, policy, budget, timeoutMs: config.timeoutMs, lease })
      : null;
  const shared = (policy: string, budget: RateBudget) =>
    limiter(policy, budget, Math.floor(budget.limit / LEASES_PER_WINDOW));
  const perAddress = shared("address", config.perAddress);
  const claimPerUser = limiter("user-claims", config.claimPerUser, 1);
  const limits =
    perAddress && claimPerUser
      ? {
          perAddress,
          claimPerUser,
          routes: Object.entries(config.routes).map(([route, budget], i) => {
            const [method = "", path = ""] = route.split(" ");
            const pattern = path
              .replace(/[.*+?^$()|[\]\\]/g, "\\$&")
              .replace(/\{[^}/]+\}/g, "[^/]+");
            return {
              method: method.toUpperCase(),
              path: new RegExp(`^${pattern}$`),
              limiter: shared(`address-route-${i}`, budget) as LocalFirstLimiter,
            };
          }),
        }
      : null;
  limitsByEnv.set(c.env, limits);
  return limits;
}

/** The caller's address as Cloudflare saw it; every local client shares one. */
function addressOf(c: Context<HonoEnv>): string {
  return c.req.header("CF-Connecting-IP") ?? "local";
}

/** Records a decision for the headers; refuses with 429 when over budget. */
function apply(c: Context<HonoEnv>, decision: RateDecision): void {
  const decisions = [...(c.get("rateLimits") ?? []), decision];
  c.set("rateLimits", decisions);
  if (decision.allowed) return;
  throw new ProblemError("rate-limited", {
    detail: `Over the ${decision.policy} budget of ${decision.limit} requests per ${decision.windowSeconds} s.`,
    retryAfter: decision.resetSeconds,
    headers: rateLimitHeaders(decisions),
  });
}

/**
 * Every route: a budget per client address (a route may have its own, RATE_LIMIT_ROUTES), and
 * the `RateLimit-Policy` / `RateLimit` headers of every budget the request was checked against.
 * Without Redis there are no limits (and no headers).
 */
export const limitPerAddress = createMiddleware<HonoEnv>(async (c, next) => {
  const limits = limitsFor(c);
  if (!limits) return next();
  const route = limits.routes.find((r) => r.method === c.req.method && r.path.test(c.req.path));
  apply(c, await (route?.limiter ?? limits.perAddress).check(addressOf(c)));
  await next();
  for (const [name, value] of Object.entries(rateLimitHeaders(c.get("rateLimits") ?? []))) {
    c.res.headers.set(name, value);
  }
});

/** Claims: a budget per user (after `requireUser`), so one user hammering the button is stopped. */
export const limitClaimsPerUser = createMiddleware<HonoEnv>(async (c, next) => {
  const limits = limitsFor(c);
  if (limits) apply(c, await limits.claimPerUser.check(c.var.userId));
  await next();
});
