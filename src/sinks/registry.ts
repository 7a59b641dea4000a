import type { SinkConfig } from "../config.ts";
import { kafkaRestV2Sink } from "./kafka-rest-v2.ts";
import { upstashKafkaSink } from "./kafka-upstash.ts";
import { mysqlSink } from "./mysql.ts";
import type { Sink } from "./types.ts";

/**
 * Every sink the outbox feeds, in the order stats and health list them. Adding a sink is one
 * adapter and one line here: its delivery rows, backoff, dead letters, stats, health and the
 * OpenAPI enums all follow from this list (its settings go in src/config.ts). `create` answers
 * null when the sink is not configured: it is then `disabled`, and owed nothing.
 */
export const SINKS = [
  {
    name: "mysql",
    create: ({ mysql, timeoutMs }) => (mysql ? mysqlSink({ url: mysql.url, timeoutMs }) : null),
  },
  {
    name: "kafka",
    create: ({ kafka, timeoutMs }) =>
      !kafka
        ? null
        : kafka.protocol === "rest-v2"
          ? kafkaRestV2Sink({ ...kafka, timeoutMs })
          : upstashKafkaSink({ ...kafka, timeoutMs }),
  },
] as const satisfies readonly SinkEntry[];

interface SinkEntry {
  /**
   * Stored in the objects' delivery rows and dead letters: never rename one. (Removing one
   * leaves its rows unread; a storage migration may delete them.)
   */
  name: string;
  create(config: SinkConfig): Sink | null;
}

export type SinkName = (typeof SINKS)[number]["name"];

export const SINK_NAMES = SINKS.map((s) => s.name) as [SinkName, ...SinkName[]];

export function isSinkName(name: string): name is SinkName {
  return (SINK_NAMES as readonly string[]).includes(name);
}

/** One value per sink, keyed by name in registry order (stats, totals, schemas). */
export function perSink<T>(value: (name: SinkName) => T): Record<SinkName, T> {
  return Object.fromEntries(SINK_NAMES.map((name) => [name, value(name)])) as Record<SinkName, T>;
}
