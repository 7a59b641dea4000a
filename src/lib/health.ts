import { sql } from "drizzle-orm";
import { configFrom, type SinkConfig } from "../config.ts";
import { databaseFor } from "../db/client.ts";
import { withTimeout } from "../sinks/timeout.ts";
import { type ErrorClass, errorClass } from "./error-class.ts";
import { type OutboxTotals, readOutboxTotals } from "./outbox-registry.ts";
import { redisFor } from "./redis.ts";

export type DependencyState = "ok" | "retrying" | "disabled";

export interface Health {
  status: "ok" | "degraded";
  sinks: { mysql: DependencyState; kafka: DependencyState; redis: DependencyState };
  /**
   * Why a dependency is not ok, as a coarse class only: this endpoint is public, and raw error
   * text can quote SQL, commands or user ids (that stays on `GET /v1/events/{id}/stats`).
   */
  errors: Partial<Record<"mysql" | "kafka" | "redis", ErrorClass>>;
  /** Every event's outbox, as their objects last published it (null without Redis). */
  outbox: OutboxTotals | null;
}

const PROBE_TIMEOUT_MS = 2_000;
/** Health is probed at most this often per isolate, so a flood of /health cannot load the sinks. */
const CACHE_MS = 2_000;

let cached: { at: number; env: object; health: Promise<Health> } | null = null;

/**
 * Probes each configured dependency (MySQL `SELECT 1`, Kafka's topic list, Redis `PING`) and adds
 * up the outbox summaries the events' objects publish to Redis (backlog, oldest pending row, dead
 * letters, delivered counts, class of the last error per sink). A dependency that fails is
 * `retrying`: the outbox keeps claims safe and drains when it is back. Public, so errors are
 * reported by class only; per-event detail and error text: `/v1/events/{id}/stats` (operator).
 */
export function health(env: object): Promise<Health> {
  const now = Date.now();
  if (cached && cached.env === env && now - cached.at < CACHE_MS) return cached.health;
  const result = probeAll(env);
  cached = { at: now, env, health: result };
  return result;
}

async function probeAll(env: object): Promise<Health> {
  const config = configFrom(env).sinks;
  const errors: Health["errors"] = {};
  const probe = async (
    name: keyof Health["errors"],
    enabled: boolean,
    check: () => Promise<unknown>,
  ) => {
    if (!enabled) return "disabled" as const;
    try {
      await withTimeout(check(), PROBE_TIMEOUT_MS, name);
      return "ok" as const;
    } catch (err) {
      errors[name] = errorClass(err);
      return "retrying" as const;
    }
  };
  const redis = redisFor(env);
  const [mysql, kafka, redisState, outbox] = await Promise.all([
    probe(
      "mysql",
      config.mysql !== null,
      () => databaseFor(env)?.execute(sql`SELECT 1`) ?? Promise.resolve(),
    ),
    probe("kafka", config.kafka !== null, () => kafkaReachable(config.kafka)),
    probe("redis", redis !== null, () => redis?.ping() ?? Promise.resolve()),
    redis
      ? withTimeout(readOutboxTotals(redis, Date.now()), PROBE_TIMEOUT_MS, "outbox totals").catch(
          () => null,
        )
      : Promise.resolve(null),
  ]);
  // Reachable is not enough: a sink some event is still retrying (refused records) is retrying.
  const retrying = (name: "mysql" | "kafka", state: DependencyState): DependencyState =>
    state === "ok" && (outbox?.sinks[name].retryingEvents ?? 0) > 0 ? "retrying" : state;
  const sinks = {
    mysql: retrying("mysql", mysql),
    kafka: retrying("kafka", kafka),
    redis: redisState,
  };
  const degraded = Object.values(sinks).some((s) => s === "retrying");
  return { status: degraded ? "degraded" : "ok", sinks, errors, outbox };
}

async function kafkaReachable(kafka: SinkConfig["kafka"]): Promise<void> {
  if (!kafka) return;
  const res = await fetch(`${kafka.url.replace(/\/$/, "")}/topics`, {
    headers: { Authorization: `Basic ${btoa(`${kafka.username}:${kafka.password}`)}` },
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`Kafka answered HTTP ${res.status}`);
}
