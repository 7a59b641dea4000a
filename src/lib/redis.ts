import { Redis } from "@upstash/redis/cloudflare";
import { configFrom } from "../config.ts";

const cache = new WeakMap<object, Redis | null>();

/**
 * The Worker's Upstash Redis client (REST over fetch), once per isolate; null when not configured.
 * Shared state of many isolates lives here (rate-limit windows, event snapshots).
 */
export function redisFor(env: object): Redis | null {
  if (cache.has(env)) return cache.get(env) ?? null;
  const config = configFrom(env).sinks.redis;
  // No client retries: callers decide (health reports `retrying`, limits fail open or closed).
  const redis = config ? new Redis({ url: config.url, token: config.token, retry: false }) : null;
  cache.set(env, redis);
  return redis;
}
