import type { LocalCloud } from "./stack-types.ts";

/**
 * The Worker's bindings that point it at the local cloud: the same variables an operator sets
 * for PlanetScale, Upstash Redis and Kafka in production, only the URLs and credentials differ.
 */
export function workerBindings(cloud: LocalCloud): Record<string, string> {
  return {
    KAFKA_TOPIC: "coupon-events",
    CORS_ORIGINS: "*",
    DATABASE_URL: cloud.planetscale.url,
    KAFKA_PROTOCOL: "upstash",
    KAFKA_REST_URL: cloud.kafka.url,
    KAFKA_REST_USERNAME: cloud.kafka.username,
    KAFKA_REST_PASSWORD: cloud.kafka.password,
    UPSTASH_REDIS_REST_URL: cloud.upstashRedis.url,
    UPSTASH_REDIS_REST_TOKEN: cloud.upstashRedis.token,
    // Used only when TURNSTILE_SECRET is set (off by default).
    TURNSTILE_VERIFY_URL: `${cloud.turnstile.url}/turnstile/v0/siteverify`,
    // Every local client is 127.0.0.1: a per-address budget that lets a 25,000-user load test
    // through. The per-user claim limit keeps its production default.
    RATE_LIMIT_PER_ADDRESS: "1000000/60s",
  };
}
