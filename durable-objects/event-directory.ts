import { DurableObject } from "cloudflare:workers";
import { type Placement, placementOf, placementSchema, UNPLACED } from "../domain/placement.ts";

/**
 * Which event ids exist, and where each one's objects live. Only `POST /v1/events` registers one;
 * reads and claims of an id the directory does not know are answered 404 without waking (and so
 * creating) an event's object, which would otherwise leave a SQLite database behind for every
 * random id anyone asks for. The placement is kept because a jurisdiction is part of the object's
 * id: a front that knows only the event id (a URL, a coupon id) learns here how to reach it.
 * Sharded by a hash of the id (`directory-shard.ts`); isolates cache its answers.
 */
export class EventDirectory extends DurableObject<Env> {
  readonly #known = new Map<string, Placement>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(
      "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)",
    );
    // Directories created before placements existed: their events are unplaced (NULL).
    const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('events')");
    if (!columns.toArray().some((c) => c.name === "region")) {
      sql.exec("ALTER TABLE events ADD COLUMN region TEXT");
      sql.exec("ALTER TABLE events ADD COLUMN jurisdiction TEXT");
    }
    const rows = sql.exec<{ id: string; region: string | null; jurisdiction: string | null }>(
      "SELECT id, region, jurisdiction FROM events",
    );
    for (const row of rows) {
      this.#known.set(row.id, placementSchema.parse(placementOf(row as Partial<Placement>)));
    }
  }

  /**
   * Registers the id with its placement, unless it is known already: either way the placement
   * it has from now on, which differs from `placement` when an earlier create chose another.
   */
  register(eventId: string, placement: Placement = UNPLACED): Placement {
    const known = this.#known.get(eventId);
    if (known) return known;
    const wanted = placementSchema.parse(placement);
    this.ctx.storage.sql.exec(
      "INSERT OR IGNORE INTO events (id, created_at, region, jurisdiction) VALUES (?, ?, ?, ?)",
      eventId,
      Date.now(),
      wanted.region,
      wanted.jurisdiction,
    );
    this.#known.set(eventId, wanted);
    return wanted;
  }

  has(eventId: string): boolean {
    return this.#known.has(eventId);
  }

  /** Where the event's objects live; null when no such event was ever created. */
  placement(eventId: string): Placement | null {
    return this.#known.get(eventId) ?? null;
  }
}
