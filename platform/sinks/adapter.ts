import type { z } from "zod";
import type { Sink } from "../../domain/sinks.ts";
import type { Section } from "../config/fields.ts";
import type { Database } from "../db/client.ts";

/** What every sink is built with, besides its own settings. */
export interface SinkContext {
  /** How long one sink request may take before it counts as failed (SINK_TIMEOUT_MS). */
  timeoutMs: number;
  /** The MySQL database (DATABASE_URL), one client for the drain and the reads; null when unset. */
  database: Database | null;
}

/**
 * One sink: its settings (a configuration section whose value is null when the sink is not
 * configured: it is then `disabled`, and owed nothing) and how its client is built, once per
 * isolate. A new sink is its file with one of these, and a line in platform/sinks/registry.ts.
 */
export interface SinkAdapter<S extends z.ZodRawShape, O> extends Section<S, O | null> {
  build(options: O, context: SinkContext): Sink | null;
}

/** Declares a sink adapter (only to infer its types). */
export const sinkAdapter = <S extends z.ZodRawShape, O>(
  def: SinkAdapter<S, O>,
): SinkAdapter<S, O> => def;

/** Any sink's adapter, as the registry holds them. */
export interface AnySinkAdapter {
  settings: z.ZodRawShape;
  together?: readonly (readonly string[])[];
  check?: (s: never, issue: never) => void;
  read: (s: never) => unknown;
  build: (options: never, context: SinkContext) => Sink | null;
}
