/**
 * Applies the drizzle-kit migrations in `migrations/` to a MySQL/MariaDB server, recording them
 * in `__drizzle_migrations` (the table `drizzle-kit migrate` uses too), so running it again
 * applies nothing. The local cloud's start and the test runner call it.
 */
import { resolve } from "node:path";
import { drizzle } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import { createConnection } from "mysql2/promise";
import type { MysqlEndpoint } from "./stack-types.ts";

export const MIGRATIONS_FOLDER = resolve(import.meta.dirname, "..", "migrations");

export async function applyMigrations(
  mysql: MysqlEndpoint,
  opts: { migrationsFolder?: string } = {},
): Promise<void> {
  const connection = await createConnection({
    host: mysql.host,
    port: mysql.port,
    user: mysql.user,
    password: mysql.password,
    database: mysql.database,
    connectTimeout: 10_000,
  });
  try {
    await migrate(drizzle({ client: connection }), {
      migrationsFolder: opts.migrationsFolder ?? MIGRATIONS_FOLDER,
    });
  } finally {
    await connection.end();
  }
}
