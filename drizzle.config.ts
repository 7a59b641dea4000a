import { defineConfig } from "drizzle-kit";

/**
 * `npx drizzle-kit generate --name <what>` writes the next SQL migration into `migrations/`
 * (no database needed). The local cloud applies migrations itself (local/migrate.ts);
 * `drizzle-kit migrate` applies them to the MySQL database that DATABASE_URL names, e.g. a
 * PlanetScale branch (docs/local-cloud.md). There is deliberately no default URL.
 */
const url = process.env.DATABASE_URL;

export default defineConfig({
  dialect: "mysql",
  schema: "./platform/db/schema",
  out: "./migrations",
  ...(url ? { dbCredentials: { url } } : {}),
});
