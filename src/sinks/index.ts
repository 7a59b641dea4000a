import { configFrom } from "../config.ts";
import { SINKS, type SinkName } from "./registry.ts";
import type { Sink } from "./types.ts";

/** Each registered sink, or null where it is not configured. */
export type Sinks = Record<SinkName, Sink | null>;

const cache = new WeakMap<object, Sinks>();

/** The configured sinks, built once per isolate (clients are long-lived, never per request). */
export function sinksFor(env: object): Sinks {
  const cached = cache.get(env);
  if (cached) return cached;
  const config = configFrom(env).sinks;
  const sinks = Object.fromEntries(SINKS.map((s) => [s.name, s.create(config)])) as Sinks;
  cache.set(env, sinks);
  return sinks;
}
