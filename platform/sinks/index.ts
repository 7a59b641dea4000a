import { perSink, type Sink, type SinkName } from "../../domain/sinks.ts";
import type { SinksConfig } from "../config/sinks.ts";
import type { SinkContext } from "./adapter.ts";
import { SINK_ADAPTERS } from "./registry.ts";

/** Each registered sink, or null where it is not configured. */
export type Sinks = Record<SinkName, Sink | null>;

/** The configured sinks (built once per isolate by platform/services.ts: clients are long-lived). */
export function buildSinks(config: SinksConfig, context: SinkContext): Sinks {
  return perSink((name) => {
    const options = config[name];
    const adapter = SINK_ADAPTERS[name] as {
      build(o: typeof options, c: SinkContext): Sink | null;
    };
    return options === null ? null : adapter.build(options, context);
  });
}
