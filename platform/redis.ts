import { Redis } from "@upstash/redis/cloudflare";
import type { RedisConfig } from "./config/redis.ts";

/**
 * The Worker's Upstash Redis client (REST over fetch), once per isolate (platform/services.ts).
 * Shared state of many isolates lives here (rate-limit windows, event snapshots).
 */
export function connectRedis(config: NonNullable<RedisConfig>): Redis {
  // No client retries: callers decide (health reports `retrying`, limits fail open or closed).
  // No auto-pipelining: it batches commands of concurrent requests into one fetch made in one
  // request's context, and the others then fail with "Cannot perform I/O on behalf of a
  // different request" (seen as 500s on `GET /v1/events/{id}` under load).
  return new Redis({
    url: config.url,
    token: config.token,
    retry: false,
    enableAutoPipelining: false,
  });
}
