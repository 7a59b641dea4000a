import { z } from "zod";

const optionalUrl = z.url({ protocol: /^https?$/ }).optional();

/**
 * Where the sinks live. Every sink is optional: one without configuration is `disabled`, and
 * the service still issues coupons (what `wrangler dev` without the local cloud gives you).
 */
const sinkEnvSchema = z.object({
  /** PlanetScale connection URL with credentials, `https://user:password@host`. */
  DATABASE_URL: optionalUrl,
  /** Kafka over HTTP: `upstash` (@upstash/kafka's REST protocol) or `rest-v2` (Kafka REST Proxy v2). */
  KAFKA_PROTOCOL: z.enum(["upstash", "rest-v2"]).default("upstash"),
  KAFKA_REST_URL: optionalUrl,
  KAFKA_REST_USERNAME: z.string().min(1).optional(),
  KAFKA_REST_PASSWORD: z.string().min(1).optional(),
  KAFKA_TOPIC: z.string().min(1).default("coupon-events"),
  UPSTASH_REDIS_REST_URL: optionalUrl,
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  /** How long one sink request may take before it counts as failed. */
  SINK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** Outbox rows per sink request. */
  SINK_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(500),
  /** Refusals of one record before it is parked in the dead-letter table. */
  SINK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  SINK_RETRY_BASE_MS: z.coerce.number().int().min(10).default(250),
  SINK_RETRY_MAX_MS: z.coerce.number().int().min(10).default(30_000),
});

export interface SinkConfig {
  mysql: { url: string } | null;
  kafka: {
    protocol: "upstash" | "rest-v2";
    url: string;
    username: string;
    password: string;
    topic: string;
  } | null;
  redis: { url: string; token: string } | null;
  timeoutMs: number;
  drain: {
    batchSize: number;
    maxAttempts: number;
    retryBaseMs: number;
    retryMaxMs: number;
    stepBudgetMs: number;
  };
}

const cache = new WeakMap<object, SinkConfig>();

/** Parsed once per isolate; a half-configured sink is an error, not silently disabled. */
export function sinkConfigFrom(env: object): SinkConfig {
  const cached = cache.get(env);
  if (cached) return cached;
  const e = sinkEnvSchema.parse(env);
  const kafkaParts = [e.KAFKA_REST_URL, e.KAFKA_REST_USERNAME, e.KAFKA_REST_PASSWORD];
  if (kafkaParts.some(Boolean) && !kafkaParts.every(Boolean)) {
    throw new Error("KAFKA_REST_URL, KAFKA_REST_USERNAME and KAFKA_REST_PASSWORD go together");
  }
  if (Boolean(e.UPSTASH_REDIS_REST_URL) !== Boolean(e.UPSTASH_REDIS_REST_TOKEN)) {
    throw new Error("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together");
  }
  const config: SinkConfig = {
    mysql: e.DATABASE_URL ? { url: e.DATABASE_URL } : null,
    kafka:
      e.KAFKA_REST_URL && e.KAFKA_REST_USERNAME && e.KAFKA_REST_PASSWORD
        ? {
            protocol: e.KAFKA_PROTOCOL,
            url: e.KAFKA_REST_URL,
            username: e.KAFKA_REST_USERNAME,
            password: e.KAFKA_REST_PASSWORD,
            topic: e.KAFKA_TOPIC,
          }
        : null,
    redis:
      e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN
        ? { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN }
        : null,
    timeoutMs: e.SINK_TIMEOUT_MS,
    drain: {
      batchSize: e.SINK_BATCH_SIZE,
      maxAttempts: e.SINK_MAX_ATTEMPTS,
      retryBaseMs: e.SINK_RETRY_BASE_MS,
      retryMaxMs: e.SINK_RETRY_MAX_MS,
      stepBudgetMs: 10_000,
    },
  };
  cache.set(env, config);
  return config;
}
