import { z } from "zod";
import type { DeliveryReport, OutboxItem, Sink } from "../../domain/sinks.ts";
import { withTimeout } from "../timeout.ts";

/** Where a Kafka sink produces, whichever HTTP protocol it speaks. */
export interface KafkaSinkOptions {
  url: string;
  username: string;
  password: string;
  topic: string;
  timeoutMs: number;
}

const produceAnswer = z.object({
  offsets: z.array(
    z.object({
      partition: z.number().nullish(),
      offset: z.number().nullish(),
      error_code: z.number().nullish(),
      error: z.string().nullish(),
    }),
  ),
});

/**
 * Kafka REST Proxy v2 (Confluent REST Proxy, Redpanda's HTTP proxy, Karapace): one
 * `POST /topics/{topic}` per batch; a per-record `error_code` inside the 200 rejects that record only.
 * Records go in the binary embedded format so key and value bytes are exactly those the Upstash
 * protocol writes (the coupon id, and the JSON text of the record): the JSON format would quote keys.
 */
export function kafkaRestV2Sink(opts: KafkaSinkOptions): Sink {
  const endpoint = `${opts.url.replace(/\/$/, "")}/topics/${encodeURIComponent(opts.topic)}`;
  const authorization = `Basic ${btoa(`${opts.username}:${opts.password}`)}`;
  return {
    probe: () => kafkaReachable(opts),
    async deliver(items: OutboxItem[]): Promise<DeliveryReport> {
      const body = JSON.stringify({
        records: items.map((item) => ({
          key: base64(item.record.coupon.id),
          value: base64(JSON.stringify(item.record)),
        })),
      });
      const res = await withTimeout(
        fetch(endpoint, {
          method: "POST",
          headers: {
            Authorization: authorization,
            "Content-Type": "application/vnd.kafka.binary.v2+json",
            Accept: "application/vnd.kafka.v2+json",
          },
          body,
          signal: AbortSignal.timeout(opts.timeoutMs),
        }),
        opts.timeoutMs,
        "Kafka REST produce",
      );
      if (!res.ok) throw new Error(`Kafka REST produce answered HTTP ${res.status}`);
      const answer = produceAnswer.parse(await res.json());
      if (answer.offsets.length !== items.length) {
        throw new Error(
          `Kafka REST produce answered ${answer.offsets.length} offsets for ${items.length} records`,
        );
      }
      return splitByRecordError(items, answer.offsets);
    },
  };
}

/** Lists the topics (`GET /topics`, served by both Kafka REST protocols): reachable and authorized. */
export async function kafkaReachable(opts: KafkaSinkOptions): Promise<void> {
  const res = await withTimeout(
    fetch(`${opts.url.replace(/\/$/, "")}/topics`, {
      headers: { Authorization: `Basic ${btoa(`${opts.username}:${opts.password}`)}` },
      signal: AbortSignal.timeout(opts.timeoutMs),
    }),
    opts.timeoutMs,
    "Kafka topic list",
  );
  await res.body?.cancel();
  if (!res.ok) throw new Error(`Kafka answered HTTP ${res.status}`);
}

/** Sorts a batch by the per-record answers of a produce call (same order as the request). */
export function splitByRecordError(
  items: OutboxItem[],
  answers: { error_code?: number | null; error?: string | null }[],
): DeliveryReport {
  const report: DeliveryReport = { delivered: [], rejected: [] };
  items.forEach((item, i) => {
    const answer = answers[i];
    if (answer?.error_code || answer?.error) {
      report.rejected.push({
        seq: item.seq,
        error: answer.error ?? `error_code ${answer.error_code}`,
      });
    } else {
      report.delivered.push(item.seq);
    }
  });
  return report;
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
