import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { HonoEnv } from "../hono-env.ts";
import { type RateDecision, rateLimitHeaders } from "../lib/rate-limit.ts";
import { ProblemError } from "../problems.ts";

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
  const limits = c.var.services.limits;
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
  const limits = c.var.services.limits;
  if (limits) apply(c, await limits.claimPerUser.check(c.var.userId));
  await next();
});
