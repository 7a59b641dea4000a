import { z } from "zod";
import { optional, secretUrl, section } from "./fields.ts";

/**
 * Upstash Redis over REST: state shared by every isolate (rate-limit windows, event snapshots,
 * outbox summaries, alert incidents). Unset, each isolate keeps its own.
 */
export const redis = section({
  settings: {
    UPSTASH_REDIS_REST_URL: optional(secretUrl("the Upstash Redis REST endpoint")),
    UPSTASH_REDIS_REST_TOKEN: optional(z.string()),
  },
  together: [["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"]],
  read: (s) =>
    s.UPSTASH_REDIS_REST_URL && s.UPSTASH_REDIS_REST_TOKEN
      ? { url: s.UPSTASH_REDIS_REST_URL, token: s.UPSTASH_REDIS_REST_TOKEN }
      : null,
});

export type RedisConfig = ReturnType<typeof redis.read>;
