/**
 * The object's SQLite schema, applied in order and recorded in `_schema`, so that an object
 * created by an older deploy upgrades itself on its next start.
 */
export const MIGRATIONS: readonly string[] = [
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
  // A coupon's life after issue: holds during payment, restores, idempotent redeems.
  `ALTER TABLE claims ADD COLUMN held_order_id TEXT;
   ALTER TABLE claims ADD COLUMN held_until INTEGER;
   ALTER TABLE claims ADD COLUMN restored_order_id TEXT;
   CREATE INDEX claims_held_until ON claims (held_until) WHERE held_until IS NOT NULL;
   CREATE TABLE idempotency (
     user_id TEXT NOT NULL,
     coupon_id TEXT NOT NULL,
     key TEXT NOT NULL,
     order_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, coupon_id, key)
   );`,
  // Sinks as data: a record's delivery state per sink is a row while that sink owes it (deleted
  // once delivered or dead-lettered), instead of three columns per sink in `outbox`. Pending
  // per-sink state moves over as it is; the old columns go.
  `CREATE TABLE outbox_delivery (
     sink TEXT NOT NULL,
     seq INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     retry_at INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (sink, seq)
   ) WITHOUT ROWID;
   CREATE INDEX outbox_delivery_refused ON outbox_delivery (sink, retry_at) WHERE retry_at > 0;
   INSERT INTO outbox_delivery (sink, seq, attempts, retry_at)
     SELECT 'mysql', seq, mysql_attempts, mysql_retry_at FROM outbox WHERE mysql_state = 0
     UNION ALL
     SELECT 'kafka', seq, kafka_attempts, kafka_retry_at FROM outbox WHERE kafka_state = 0;
   DELETE FROM outbox WHERE mysql_state <> 0 AND kafka_state <> 0;
   ALTER TABLE outbox DROP COLUMN mysql_state;
   ALTER TABLE outbox DROP COLUMN mysql_attempts;
   ALTER TABLE outbox DROP COLUMN mysql_retry_at;
   ALTER TABLE outbox DROP COLUMN kafka_state;
   ALTER TABLE outbox DROP COLUMN kafka_attempts;
   ALTER TABLE outbox DROP COLUMN kafka_retry_at;`,
  // Redemption keys expire after 24 h: the sweep finds the expired ones by age.
  "CREATE INDEX idempotency_created_at ON idempotency (created_at)",
  // An issue costs no outbox row: the claims table is the log of `coupon.issued` records, and
  // each sink keeps a cursor over it (the last claims rowid it is done with). Claims are never
  // deleted, so rowids only grow (nothing here may delete claims or VACUUM). The Outbox sets each
  // cursor after the claims that exist when it first starts: their records are in `outbox` rows
  // already, or were delivered.
  `CREATE TABLE sink_cursor (
     sink TEXT PRIMARY KEY,
     claims_rowid INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Sharded events (docs/shards.md). A coordinator's lease table: each grant by (shard, lease
  // number), and each shard's totals as last reported. A shard's share: its index, what it was
  // granted, what recalls took back, and its next lease number. Unsharded objects leave them empty.
  `CREATE TABLE lease_grants (
     shard INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     granted INTEGER NOT NULL,
     PRIMARY KEY (shard, seq)
   ) WITHOUT ROWID;
   CREATE TABLE lease_shards (
     shard INTEGER PRIMARY KEY,
     granted INTEGER NOT NULL DEFAULT 0,
     returned INTEGER NOT NULL DEFAULT 0,
     issued INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE lease_share (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     shard INTEGER NOT NULL,
     granted INTEGER NOT NULL DEFAULT 0,
     returned INTEGER NOT NULL DEFAULT 0,
     next_seq INTEGER NOT NULL DEFAULT 0
   );`,
];

/** Applies the migrations not applied yet, up to `target` (all of them; tests stop earlier). */
export function migrate(sql: SqlStorage, target = MIGRATIONS.length): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  let version = row?.version ?? 0;
  if (!row) sql.exec("INSERT INTO _schema (version) VALUES (0)");
  for (; version < target; version++) {
    sql.exec(MIGRATIONS[version] as string);
    sql.exec("UPDATE _schema SET version = ?", version + 1);
  }
}
