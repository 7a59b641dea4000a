import { perSink, type Sink, type SinkName } from "../../domain/sinks.ts";
import { configFrom } from "../config.ts";
import { SINK_ADAPTERS } from "./registry.ts";

/** Each registered sink, or null where it is not configured. */
export type Sinks = Record<SinkName, Sink | null>;

const cache = new WeakMap<object, Sinks>();

/** The configured sinks, built once per isolate (clients are long-lived, never per request). */
export function sinksFor(env: object): Sinks {
  const cached = cache.get(env);
  if (cached) return cached;
  const config = configFrom(env).sinks;
  const sinks = perSink((name) => SINK_ADAPTERS[name](config));
  cache.set(env, sinks);
  return sinks;
}
