import type { Context } from "hono";
import { fnv1a } from "../../domain/fnv.ts";
import type { HonoEnv } from "../hono-env.ts";
import type { Sample } from "../lib/metrics.ts";

/**
 * One JSON line per request (Workers Logs indexes its fields; `observability` in wrangler.toml):
 * request id, route (the template, never the path: coupon ids are bearer-like), status, problem
 * slug, latency, event id and a keyed hash of the user id. Never a token, a header, a body, a
 * query string or a user id in clear. `REQUEST_LOG=off` silences it.
 */
export function logRequest(c: Context<HonoEnv>, sample: Sample): void {
  const config = c.get("config");
  if (config?.REQUEST_LOG === "off") return;
  const userId = c.get("userId");
  console.log(
    JSON.stringify({
      level: sample.status >= 500 ? "error" : "info",
      msg: "request",
      requestId: c.get("requestId"),
      method: sample.method,
      route: sample.route,
      status: sample.status,
      slug: sample.slug || undefined,
      ms: Math.round(sample.ms * 10) / 10,
      event: sample.eventId || undefined,
      user: userId === undefined ? undefined : userHash(userId, config?.JWT_SECRET ?? ""),
    }),
  );
}

let seeds: { secret: string; a: number; b: number } | null = null;

/**
 * 64 bits of FNV-1a, seeded from the JWT secret: the same user has the same hash in every line
 * (to follow one user through an incident), and without the secret a list of known user ids
 * cannot be hashed to find who is who. Not a cryptographic guarantee: a pseudonym for logs.
 */
export function userHash(userId: string, secret: string): string {
  if (seeds?.secret !== secret) {
    seeds = { secret, a: fnv1a(`a:${secret}`), b: fnv1a(`b:${secret}`) };
  }
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  return hex(fnv1a(userId, seeds.a)) + hex(fnv1a(userId, seeds.b));
}
