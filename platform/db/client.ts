import { Client } from "@planetscale/database";
import { drizzle, type PlanetScaleDatabase } from "drizzle-orm/planetscale-serverless";
import { fetchWithTimeout } from "../timeout.ts";

export type Database = PlanetScaleDatabase<Record<string, never>> & { $client: Client };

/**
 * MySQL (PlanetScale over HTTP): drizzle for queries, `$client` for prebuilt statements. One per
 * isolate (platform/services.ts), shared by the MySQL sink and the routes that read it.
 */
export function connectDatabase(url: string, timeoutMs: number): Database {
  return drizzle({ client: new Client({ url, fetch: fetchWithTimeout(timeoutMs) }) });
}
