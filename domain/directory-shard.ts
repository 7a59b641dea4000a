import { fnv1a } from "./fnv.ts";

const SHARDS = 16;

/**
 * The `EventDirectory` shard that knows `eventId` (a fixed hash, so the mapping never changes).
 * Its own file: the Worker imports it without the object class (and `cloudflare:workers`).
 */
export function directoryShard(eventId: string): string {
  return `shard-${fnv1a(eventId) % SHARDS}`;
}
