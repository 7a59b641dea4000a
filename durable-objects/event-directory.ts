import { DurableObject } from "cloudflare:workers";

/**
 * Which event ids exist. Only `POST /v1/events` registers one; reads and claims of an id the
 * directory does not know are answered 404 without waking (and so creating) an event's object,
 * which would otherwise leave a SQLite database behind for every random id anyone asks for.
 * Sharded by a hash of the id (`directory-shard.ts`); isolates cache its answers.
 */
export class EventDirectory extends DurableObject<Env> {
  readonly #known = new Set<string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)",
    );
    for (const row of ctx.storage.sql.exec<{ id: string }>("SELECT id FROM events")) {
      this.#known.add(row.id);
    }
  }

  register(eventId: string): void {
    if (this.#known.has(eventId)) return;
    this.ctx.storage.sql.exec(
      "INSERT OR IGNORE INTO events (id, created_at) VALUES (?, ?)",
      eventId,
      Date.now(),
    );
    this.#known.add(eventId);
  }

  has(eventId: string): boolean {
    return this.#known.has(eventId);
  }
}
