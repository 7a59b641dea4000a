import { defineConfig } from "drizzle-kit";

/**
 * `npx drizzle-kit generate --name <what>` writes the next SQL migration into `migrations/`
 * (no database needed). The local cloud applies migrations itself (local/migrate.ts);
 * `drizzle-kit migrate` applies them to the MySQL database that MIGRATIONS_DATABASE_URL names
 * (`mysql://user:password@host/database?ssl=...`, e.g. a PlanetScale branch: docs/deploy.md).
 * It is not the Worker's DATABASE_URL, which is PlanetScale's HTTP endpoint (`https://...`):
 * two formats, two names. There is deliberately no default URL.
 */
const url = process.env.MIGRATIONS_DATABASE_URL;

export default defineConfig({
  dialect: "mysql",
  schema: "./platform/db/schema",
  out: "./migrations",
  ...(url ? { dbCredentials: { url } } : {}),
});
