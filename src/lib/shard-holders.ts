import { type HoldersFilter, HoldersSet } from "../../domain/holders-filter.ts";

/** Shards' holders kept per isolate (each up to 1 MiB / shards); the least recently used go. */
const MAX_SHARD_FILTERS = 1_024;

/**
 * The holders of a sharded event, per shard (docs/shards.md): each shard sends its own once it is
 * final (sold out or ended), and the edge asks only the user's shard's before refusing. Bounded
 * like the snapshots: a map in use order.
 */
export class ShardHolders {
  readonly #sets = new Map<string, HoldersSet>();
  /** Shards a claim is asking for holders right now (one at a time per isolate and shard). */
  readonly #asking = new Set<string>();

  get(shard: string): HoldersSet | null {
    const set = this.#sets.get(shard);
    if (!set) return null;
    this.#sets.delete(shard);
    this.#sets.set(shard, set);
    return set;
  }

  /** Whether a claim to this shard should ask for its holders (and marks it as asking). */
  startAsking(shard: string): boolean {
    if (this.#sets.has(shard) || this.#asking.has(shard)) return false;
    this.#asking.add(shard);
    return true;
  }

  doneAsking(shard: string, holders?: HoldersFilter): void {
    this.#asking.delete(shard);
    if (!holders || this.#sets.has(shard)) return;
    this.#sets.set(shard, new HoldersSet(holders));
    if (this.#sets.size > MAX_SHARD_FILTERS) {
      const oldest = this.#sets.keys().next().value;
      if (oldest !== undefined) this.#sets.delete(oldest);
    }
  }
}
