import { z } from "zod";
import { optional, secretUrl, withDefault } from "../config/fields.ts";
import { sinkAdapter } from "./adapter.ts";
import { kafkaRestV2Sink } from "./kafka-rest-v2.ts";
import { upstashKafkaSink } from "./kafka-upstash.ts";

/** Kafka over HTTP, in either protocol: the records of every coupon change on one topic. */
export const kafka = sinkAdapter({
  settings: {
    /** `upstash` (@upstash/kafka's REST protocol) or `rest-v2` (Kafka REST Proxy v2). */
    KAFKA_PROTOCOL: withDefault(
      z.enum(["upstash", "rest-v2"], { error: "must be upstash or rest-v2" }).default("upstash"),
    ),
    KAFKA_REST_URL: optional(secretUrl("the Kafka REST endpoint")),
    KAFKA_REST_USERNAME: optional(z.string()),
    KAFKA_REST_PASSWORD: optional(z.string()),
    KAFKA_TOPIC: withDefault(z.string().default("coupon-events")),
  },
  together: [["KAFKA_REST_URL", "KAFKA_REST_USERNAME", "KAFKA_REST_PASSWORD"]],
  read: (s) =>
    s.KAFKA_REST_URL && s.KAFKA_REST_USERNAME && s.KAFKA_REST_PASSWORD
      ? {
          protocol: s.KAFKA_PROTOCOL,
          url: s.KAFKA_REST_URL,
          username: s.KAFKA_REST_USERNAME,
          password: s.KAFKA_REST_PASSWORD,
          topic: s.KAFKA_TOPIC,
        }
      : null,
  build: ({ protocol, ...kafka }, { timeoutMs }) =>
    protocol === "rest-v2"
      ? kafkaRestV2Sink({ ...kafka, timeoutMs })
      : upstashKafkaSink({ ...kafka, timeoutMs }),
});
