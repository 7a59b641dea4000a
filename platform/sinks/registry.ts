import type { Sink, SinkName } from "../../domain/sinks.ts";
import type { SinkConfig } from "../config.ts";
import { kafkaRestV2Sink } from "./kafka-rest-v2.ts";
import { upstashKafkaSink } from "./kafka-upstash.ts";
import { mysqlSink } from "./mysql.ts";

/**
 * The adapter of each sink named in domain/sinks.ts (the names, their order and everything
 * derived from them live there). `null` when the sink is not configured: it is then
 * `disabled`, and owed nothing. Its settings go in platform/config.ts.
 */
export const SINK_ADAPTERS: { readonly [Name in SinkName]: (config: SinkConfig) => Sink | null } = {
  mysql: ({ mysql, timeoutMs }) => (mysql ? mysqlSink({ url: mysql.url, timeoutMs }) : null),
  kafka: ({ kafka, timeoutMs }) =>
    !kafka
      ? null
      : kafka.protocol === "rest-v2"
        ? kafkaRestV2Sink({ ...kafka, timeoutMs })
        : upstashKafkaSink({ ...kafka, timeoutMs }),
};
