import { Redis } from "@upstash/redis/cloudflare";
import { configFrom } from "./config.ts";

const cache = new WeakMap<object, Redis | null>();

/**
 * The Worker's Upstash Redis client (REST over fetch), once per isolate; null when not configured.
 * Shared state of many isolates lives here (rate-limit windows, event snapshots).
 */
export function redisFor(env: object): Redis | null {
  if (cache.has(env)) return cache.get(env) ?? null;
  const config = configFrom(env).sinks.redis;
  // No client retries: callers decide (health reports `retrying`, limits fail open or closed).
  // No auto-pipelining: it batches commands of concurrent requests into one fetch made in one
  // request's context, and the others then fail with "Cannot perform I/O on behalf of a
  // different request" (seen as 500s on `GET /v1/events/{id}` under load).
  const redis = config
    ? new Redis({ url: config.url, token: config.token, retry: false, enableAutoPipelining: false })
    : null;
  cache.set(env, redis);
  return redis;
}
