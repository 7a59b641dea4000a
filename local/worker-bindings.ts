import type { LocalCloud } from "./stack-types.ts";

/** The Worker's non-secret bindings that point it at the local cloud instead of the real services. */
export function workerBindings(_cloud: LocalCloud): Record<string, string> {
  return { KAFKA_TOPIC: "coupon-events", CORS_ORIGINS: "*" };
}
