import type { Redis } from "@upstash/redis/cloudflare";
import { createMiddleware } from "hono/factory";
import { withTimeout } from "../../platform/timeout.ts";
import { siteverify, TURNSTILE_TOKEN_MAX_LENGTH } from "../../platform/turnstile.ts";
import type { HonoEnv } from "../hono-env.ts";
import { ProblemError } from "../problems.ts";

/** Where a claim carries the widget's token (the form field's name, as a header). */
export const TURNSTILE_HEADER = "CF-Turnstile-Response";
/** Tokens live 300 s at Cloudflare; a spent one is remembered as long. */
const SPENT_TTL_S = 300;
const REDIS_TIMEOUT_MS = 1_000;

type Reason = "missing" | "invalid" | "replayed";

function refused(reason: Reason, detail: string): ProblemError {
  return new ProblemError("forbidden", { detail, extra: { challenge: "turnstile", reason } });
}

/**
 * Turnstile on claims, when TURNSTILE_SECRET is set: each claim spends one token from the widget,
 * and only a token Cloudflare's siteverify accepts gets to the event. Fails closed: without a
 * verdict there is no claim (503, try again). Runs after the rate limits, so a flood of claims
 * cannot turn into a flood of siteverify calls.
 */
export const requireTurnstile = createMiddleware<HonoEnv>(async (c, next) => {
  const config = c.var.services.config.turnstile;
  if (!config) return next();
  const token = c.req.header(TURNSTILE_HEADER);
  if (!token) {
    throw refused("missing", `This claim needs a Turnstile token in ${TURNSTILE_HEADER}.`);
  }
  if (token.length > TURNSTILE_TOKEN_MAX_LENGTH) {
    throw refused("invalid", "The Turnstile token is not valid.");
  }
  const spent = await spend(c.var.services.redis, token);
  if (spent === "again") throw refused("replayed", "This Turnstile token was already used.");
  if (spent === "unknown") {
    // Fails closed: without the replay guard one solved token could pass many times within
    // siteverify's convergence window, and rate limits fail open while Redis is down.
    console.error(JSON.stringify({ level: "error", msg: "turnstile replay guard unavailable" }));
    throw new ProblemError("unavailable", {
      detail: "The bot check could not be verified; try again.",
      retryAfter: 1,
    });
  }
  const verdict = await siteverify(config, token, c.req.header("CF-Connecting-IP"));
  if (verdict.outcome === "unreachable") {
    // Cloudflare never saw it spent: the same token may be tried again.
    await spent.release();
    console.error(
      JSON.stringify({ level: "error", msg: "turnstile unverified", reason: verdict.reason }),
    );
    throw new ProblemError("unavailable", {
      detail: "The bot check could not be verified; try again.",
      retryAfter: 1,
    });
  }
  if (verdict.outcome === "refused") {
    throw verdict.replayed
      ? refused("replayed", "This Turnstile token was already used.")
      : refused("invalid", "The Turnstile token is not valid.");
  }
  await next();
});

/**
 * Marks the token spent in Redis, for every isolate at once. siteverify refuses a second use
 * too, but Cloudflare calls that "subject to network convergence": two claims with one token in
 * the same instant could both pass there. Without Redis configured siteverify alone decides;
 * with Redis configured but failing, "unknown" (the caller fails closed).
 */
async function spend(
  redis: Redis | null,
  token: string,
): Promise<"again" | "unknown" | { release(): Promise<void> }> {
  const none = { release: async () => {} };
  if (!redis) return none;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  const key = `coupon:turnstile:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  try {
    const set = await withTimeout(
      redis.set(key, 1, { nx: true, ex: SPENT_TTL_S }),
      REDIS_TIMEOUT_MS,
      "turnstile spend",
    );
    if (set === null) return "again";
  } catch {
    return "unknown";
  }
  return {
    release: async () => {
      await withTimeout(redis.del(key), REDIS_TIMEOUT_MS, "turnstile release").catch(() => {});
    },
  };
}
