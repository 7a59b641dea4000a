import { SINK_NAMES, type SinkName, type SinkState } from "../../domain/sinks.ts";
import { type ErrorClass, errorClass } from "../../platform/error-class.ts";
import { readOutboxTotals } from "../../platform/outbox-registry.ts";
import type { PlatformServices } from "../../platform/services.ts";
import { withTimeout } from "../../platform/timeout.ts";

/** What `/health` probes: every registered sink, then Redis. */
export type Dependency = SinkName | "redis";

export interface Health {
  status: "ok" | "degraded";
  sinks: Record<Dependency, SinkState>;
  /**
   * Why a dependency is not ok, as a coarse class only: this endpoint is public, and raw error
   * text can quote SQL, commands or user ids (that stays on `GET /v1/events/{id}/stats`).
   */
  errors: Partial<Record<Dependency, ErrorClass>>;
}

const PROBE_TIMEOUT_MS = 2_000;
/** Health is probed at most this often per isolate, so a flood of /health cannot load the sinks. */
const CACHE_MS = 2_000;

/** The last answer, and a probe under way: values and a time, never a shared promise. */
let cached: { at: number; services: PlatformServices; health: Health } | null = null;
let probing: { since: number; services: PlatformServices } | null = null;

/**
 * Probes each configured dependency (each sink's own `probe`, e.g. MySQL `SELECT 1` or Kafka's
 * topic list, and Redis `PING`), and reads the outbox summaries the events' objects publish to
 * Redis only to tell whether some event is still retrying a sink. A dependency that fails is
 * `retrying`: the outbox keeps claims safe and drains when it is back. Public, so it says states
 * and error classes only, never a figure (deliveries, events, dead letters) nor error text: those
 * are on the operator's `/v1/admin/metrics/summary` and `/v1/events/{id}/stats`.
 */
export async function health(services: PlatformServices): Promise<Health> {
  const now = Date.now();
  const last = cached?.services === services ? cached : null;
  if (last && now - last.at < CACHE_MS) return last.health;
  // While another request probes, the previous answer stands: a request must not await another
  // request's I/O (workerd cancels the waiter when that request ends).
  const busy = probing?.services === services && now - probing.since < PROBE_TIMEOUT_MS + CACHE_MS;
  if (busy && last) return last.health;
  const mine = { since: now, services };
  probing = mine;
  try {
    const result = await probeAll(services);
    cached = { at: Date.now(), services, health: result };
    return result;
  } finally {
    if (probing === mine) probing = null;
  }
}

async function probeAll(services: PlatformServices): Promise<Health> {
  const errors: Health["errors"] = {};
  const probe = async (
    name: Dependency,
    check: (() => Promise<unknown>) | null,
  ): Promise<SinkState> => {
    if (!check) return "disabled";
    try {
      await withTimeout(check(), PROBE_TIMEOUT_MS, name);
      return "ok";
    } catch (err) {
      errors[name] = errorClass(err);
      return "retrying";
    }
  };
  // An invalid configuration fails here (reading the sinks), as every route does.
  const sinks = services.sinks;
  const redis = services.redis;
  const [sinkStates, redisState, outbox] = await Promise.all([
    Promise.all(
      SINK_NAMES.map((name) => {
        const sink = sinks[name];
        return probe(name, sink && (() => sink.probe()));
      }),
    ),
    probe("redis", redis && (() => redis.ping())),
    redis
      ? withTimeout(readOutboxTotals(redis, Date.now()), PROBE_TIMEOUT_MS, "outbox totals").catch(
          () => null,
        )
      : Promise.resolve(null),
  ]);
  const states = {} as Health["sinks"];
  SINK_NAMES.forEach((name, i) => {
    const state = sinkStates[i] ?? "disabled";
    // Reachable is not enough: a sink some event is still retrying (refused records) is retrying.
    states[name] =
      state === "ok" && (outbox?.sinks[name].retryingEvents ?? 0) > 0 ? "retrying" : state;
  });
  states.redis = redisState;
  const degraded = Object.values(states).some((s) => s === "retrying");
  return { status: degraded ? "degraded" : "ok", sinks: states, errors };
}
