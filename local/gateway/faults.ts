/**
 * Fault injection shared by the gateway's APIs. The gateway's control port flips these so that
 * tests can make a sink fail the way production sinks fail, without mocks.
 */
export type FaultMode = "none" | "error" | "hang";

export interface Faults {
  /** `error`: every request answers 500; `hang`: requests are held until the mode changes. */
  mode: FaultMode;
  /**
   * Requests (PlanetScale: statements; Kafka: records) whose text contains one of these strings
   * are rejected in the API's own error shape, every time: a "poison" record.
   */
  rejectMatching: string[];
}

export function noFaults(): Faults {
  return { mode: "none", rejectMatching: [] };
}

export function matchesPoison(faults: Faults, text: string): boolean {
  return faults.rejectMatching.some((s) => s.length > 0 && text.includes(s));
}
