import { Kafka } from "@upstash/kafka";
import { z } from "zod";
import type { DeliveryReport, OutboxItem, Sink } from "../../domain/sinks.ts";
import { withTimeout } from "../timeout.ts";
import { type KafkaSinkOptions, kafkaReachable, splitByRecordError } from "./kafka-rest-v2.ts";

// The client types only the success shape; a record the broker refused carries `error` instead.
const produceAnswers = z.array(
  z.object({ offset: z.number().optional(), error: z.string().nullish() }).loose(),
);

/**
 * Kafka through the Upstash Kafka REST protocol (`@upstash/kafka`, the design's choice). Upstash
 * discontinued its hosted Kafka in 2024; the protocol is served here by the local gateway and the
 * sink sits behind the same interface as the Kafka REST Proxy v2 one.
 */
export function upstashKafkaSink(opts: KafkaSinkOptions): Sink {
  const producer = new Kafka({
    url: opts.url,
    username: opts.username,
    password: opts.password,
  }).producer();
  return {
    probe: () => kafkaReachable(opts),
    async deliver(items: OutboxItem[]): Promise<DeliveryReport> {
      const requests = items.map((item) => ({
        topic: opts.topic,
        value: item.record,
        key: item.record.coupon.id,
      }));
      // The client retries failed requests itself (5 times, up to ~8 s); the timeout bounds it.
      const answers = produceAnswers.parse(
        await withTimeout(producer.produceMany(requests), opts.timeoutMs, "Kafka produce"),
      );
      if (answers.length !== items.length) {
        throw new Error(
          `Kafka produce answered ${answers.length} results for ${items.length} records`,
        );
      }
      return splitByRecordError(items, answers);
    },
  };
}
