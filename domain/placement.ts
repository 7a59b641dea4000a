import { z } from "zod";

/**
 * Where an event's objects live, fixed when the event is created. `region` is one of Cloudflare's
 * Durable Object location hints: it only matters for the object's first creation, so an event is
 * created near its buyers (a Seoul flash sale's object in `apac` saves a Pacific round trip per
 * claim). `jurisdiction` is stricter: the object's id is taken in that jurisdiction's namespace,
 * so every later call must name it to reach the same object (the directory remembers it).
 */
export const REGIONS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
export const JURISDICTIONS = ["eu", "fedramp"] as const;

export type Region = (typeof REGIONS)[number];
export type Jurisdiction = (typeof JURISDICTIONS)[number];

export interface Placement {
  region: Region | null;
  jurisdiction: Jurisdiction | null;
}

/** Checked again wherever a placement crosses RPC (the directory, the objects' door). */
export const placementSchema = z
  .object({ region: z.enum(REGIONS).nullable(), jurisdiction: z.enum(JURISDICTIONS).nullable() })
  .strict();

/** Anywhere: the first request's location decides, in the default namespace. */
export const UNPLACED: Placement = { region: null, jurisdiction: null };

/** The placement a definition (or a directory row) names; absent fields mean none. */
export function placementOf(def: {
  region?: Region | null;
  jurisdiction?: Jurisdiction | null;
}): Placement {
  return { region: def.region ?? null, jurisdiction: def.jurisdiction ?? null };
}

export function samePlacement(a: Placement, b: Placement): boolean {
  return a.region === b.region && a.jurisdiction === b.jurisdiction;
}
