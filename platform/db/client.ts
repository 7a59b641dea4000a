import { Client } from "@planetscale/database";
import { drizzle, type PlanetScaleDatabase } from "drizzle-orm/planetscale-serverless";
import { configFrom } from "../config.ts";
import { fetchWithTimeout } from "../timeout.ts";

export type Database = PlanetScaleDatabase<Record<string, never>>;

const cache = new WeakMap<object, Database | null>();

/** The Worker's MySQL (PlanetScale over HTTP), once per isolate; null when not configured. */
export function databaseFor(env: object): Database | null {
  if (cache.has(env)) return cache.get(env) ?? null;
  const config = configFrom(env).sinks;
  const db = config.mysql
    ? drizzle({
        client: new Client({ url: config.mysql.url, fetch: fetchWithTimeout(config.timeoutMs) }),
      })
    : null;
  cache.set(env, db);
  return db;
}
