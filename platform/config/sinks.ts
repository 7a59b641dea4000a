import type { z } from "zod";
import type { DrainPolicy } from "../../domain/drain-policy.ts";
import { SINK_NAMES } from "../../domain/sinks.ts";
import type { AnySinkAdapter } from "../sinks/adapter.ts";
import { SINK_ADAPTERS, type SinkOptions } from "../sinks/registry.ts";
import { int, type Section } from "./fields.ts";

/** How the outbox is delivered, whichever the sink. */
const delivery = {
  /** How long one sink request may take before it counts as failed. */
  SINK_TIMEOUT_MS: int(100, 60_000, 5_000),
  /** Outbox rows per sink request. */
  SINK_BATCH_SIZE: int(1, 1000, 500),
  /** Refusals of one record before it is parked in the dead-letter table. */
  SINK_MAX_ATTEMPTS: int(1, 100, 5),
  SINK_RETRY_BASE_MS: int(10, 3_600_000, 250),
  SINK_RETRY_MAX_MS: int(10, 3_600_000, 30_000),
};
type Delivery = z.output<z.ZodObject<typeof delivery>>;

export type SinksConfig = SinkOptions & { timeoutMs: number; drain: DrainPolicy };

const adapters: readonly AnySinkAdapter[] = SINK_NAMES.map((name) => SINK_ADAPTERS[name]);

/**
 * Where the sinks live (each adapter's own settings, platform/sinks/*) and how the outbox is
 * delivered to them. Every sink is optional: one without configuration is `disabled`, and the
 * service still issues coupons (what `wrangler dev` without the local cloud gives you); a
 * half-configured one is an error, never silently disabled.
 */
export const sinks: Section<z.ZodRawShape, SinksConfig> = {
  settings: Object.assign({}, ...adapters.map((a) => a.settings), delivery),
  together: adapters.flatMap((a) => a.together ?? []),
  check: (s, issue) => {
    const { SINK_RETRY_BASE_MS: base, SINK_RETRY_MAX_MS: max } = s;
    if (typeof base === "number" && typeof max === "number" && base > max) {
      issue("SINK_RETRY_BASE_MS", "must not exceed SINK_RETRY_MAX_MS");
    }
  },
  read: (parsed) => {
    // The parsed bindings hold every adapter's settings (the schema is built from them above).
    const s = parsed as Delivery & Record<string, unknown>;
    const options = Object.fromEntries(
      SINK_NAMES.map((name) => [name, SINK_ADAPTERS[name].read(s as never)]),
    ) as SinkOptions;
    return {
      ...options,
      timeoutMs: s.SINK_TIMEOUT_MS,
      drain: {
        batchSize: s.SINK_BATCH_SIZE,
        maxAttempts: s.SINK_MAX_ATTEMPTS,
        retryBaseMs: s.SINK_RETRY_BASE_MS,
        retryMaxMs: s.SINK_RETRY_MAX_MS,
        stepBudgetMs: 10_000,
      },
    };
  },
};
