import { configFrom } from "../config.ts";
import { kafkaRestV2Sink } from "./kafka-rest-v2.ts";
import { upstashKafkaSink } from "./kafka-upstash.ts";
import { mysqlSink } from "./mysql.ts";
import type { Sink, SinkName } from "./types.ts";

export type Sinks = Record<SinkName, Sink | null>;

const cache = new WeakMap<object, Sinks>();

/** The configured sinks, built once per isolate (clients are long-lived, never per request). */
export function sinksFor(env: object): Sinks {
  const cached = cache.get(env);
  if (cached) return cached;
  const config = configFrom(env).sinks;
  const { kafka, timeoutMs } = config;
  const sinks: Sinks = {
    mysql: config.mysql ? mysqlSink({ url: config.mysql.url, timeoutMs }) : null,
    kafka: !kafka
      ? null
      : kafka.protocol === "rest-v2"
        ? kafkaRestV2Sink({ ...kafka, timeoutMs })
        : upstashKafkaSink({ ...kafka, timeoutMs }),
  };
  cache.set(env, sinks);
  return sinks;
}
