/**
 * The object's SQLite schema, applied in order and recorded in `_schema`, so that an object
 * created by an older deploy upgrades itself on its next start.
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE event (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     definition TEXT NOT NULL,
     paused INTEGER NOT NULL DEFAULT 0,
     issued INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE claims (
     user_id TEXT PRIMARY KEY,
     coupon_id TEXT NOT NULL UNIQUE,
     issued_at INTEGER NOT NULL,
     expires_at INTEGER,
     status TEXT NOT NULL DEFAULT 'issued',
     redeemed_at INTEGER,
     order_id TEXT,
     version INTEGER NOT NULL DEFAULT 1
   );
   CREATE TABLE outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     coupon_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     payload TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     mysql_state INTEGER NOT NULL DEFAULT 0,
     mysql_attempts INTEGER NOT NULL DEFAULT 0,
     mysql_retry_at INTEGER NOT NULL DEFAULT 0,
     kafka_state INTEGER NOT NULL DEFAULT 0,
     kafka_attempts INTEGER NOT NULL DEFAULT 0,
     kafka_retry_at INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE dead_letters (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     sink TEXT NOT NULL,
     seq INTEGER NOT NULL,
     coupon_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     payload TEXT NOT NULL,
     error TEXT NOT NULL,
     attempts INTEGER NOT NULL,
     failed_at INTEGER NOT NULL
   );
   CREATE TABLE sink_status (
     name TEXT PRIMARY KEY,
     delivered INTEGER NOT NULL DEFAULT 0,
     failures INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     last_delivered_at INTEGER,
     retry_at INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE rejections (
     slug TEXT PRIMARY KEY,
     n INTEGER NOT NULL
   );`,
  // Pause and resume count into the event's snapshot version (issued + pause changes).
  "ALTER TABLE event ADD COLUMN pause_changes INTEGER NOT NULL DEFAULT 0",
];

export function migrate(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  let version = row?.version ?? 0;
  if (!row) sql.exec("INSERT INTO _schema (version) VALUES (0)");
  for (; version < MIGRATIONS.length; version++) {
    sql.exec(MIGRATIONS[version] as string);
    sql.exec("UPDATE _schema SET version = ?", version + 1);
  }
}
