import type { SinkName } from "../domain/sinks.ts";

export interface SinkStatusRow {
  delivered: number;
  /** Consecutive failed attempts to reach the sink; 0 once it answers again. */
  failures: number;
  lastError: string | null;
  lastDeliveredAt: number | null;
  /** Not before this time (epoch ms) is the sink tried again. */
  retryAt: number;
}

/** Per-sink delivery counters and backoff state, persisted so they survive restarts. */
export class SinkStatusStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  get(sink: SinkName): SinkStatusRow {
    const row = this.#sql
      .exec<{
        delivered: number;
        failures: number;
        last_error: string | null;
        last_delivered_at: number | null;
        retry_at: number;
      }>(
        "SELECT delivered, failures, last_error, last_delivered_at, retry_at FROM sink_status WHERE name = ?",
        sink,
      )
      .toArray()[0];
    return row
      ? {
          delivered: row.delivered,
          failures: row.failures,
          lastError: row.last_error,
          lastDeliveredAt: row.last_delivered_at,
          retryAt: row.retry_at,
        }
      : { delivered: 0, failures: 0, lastError: null, lastDeliveredAt: null, retryAt: 0 };
  }

  succeeded(sink: SinkName, delivered: number, now: number, lastError: string | null): void {
    this.#sql.exec(
      `INSERT INTO sink_status (name, delivered, failures, last_error, last_delivered_at, retry_at)
       VALUES (?1, ?2, 0, ?3, CASE WHEN ?2 > 0 THEN ?4 END, 0)
       ON CONFLICT (name) DO UPDATE SET
         delivered = delivered + ?2, failures = 0, retry_at = 0,
         last_error = COALESCE(?3, last_error),
         last_delivered_at = CASE WHEN ?2 > 0 THEN ?4 ELSE last_delivered_at END`,
      sink,
      delivered,
      lastError,
      now,
    );
  }

  failed(sink: SinkName, error: string, retryAt: (failures: number) => number): void {
    const failures = this.get(sink).failures + 1;
    this.#sql.exec(
      `INSERT INTO sink_status (name, failures, last_error, retry_at) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (name) DO UPDATE SET failures = ?2, last_error = ?3, retry_at = ?4`,
      sink,
      failures,
      error.slice(0, 1000),
      retryAt(failures),
    );
  }
}
