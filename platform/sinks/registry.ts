import type { SinkName } from "../../domain/sinks.ts";
import type { AnySinkAdapter } from "./adapter.ts";
import { kafka } from "./kafka.ts";
import { mysql } from "./mysql.ts";

/**
 * The adapter of each sink named in domain/sinks.ts (the names, their order and everything
 * derived from them live there), with its settings: the compiler refuses a name without one.
 */
export const SINK_ADAPTERS = { mysql, kafka } as const satisfies {
  readonly [Name in SinkName]: AnySinkAdapter;
};

/** Each sink's options (its `read`), or null where it is not configured. */
export type SinkOptions = {
  readonly [Name in SinkName]: ReturnType<(typeof SINK_ADAPTERS)[Name]["read"]>;
};
