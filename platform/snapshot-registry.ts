import type { Redis } from "@upstash/redis/cloudflare";
import type { EventSnapshot } from "../domain/views.ts";

/**
 * Each event's object publishes its snapshot here when it changes (at most a few times a
 * second), so that isolates everywhere can refresh theirs without waking the object.
 */
const key = (eventId: string) => `coupon:snapshot:${eventId}`;
/** An idle event's snapshot stays a day; past that, isolates ask the object again. */
const KEEP_MS = 24 * 3600_000;

export async function publishSnapshot(redis: Redis, snapshot: EventSnapshot): Promise<void> {
  await redis.set(key(snapshot.def.id), snapshot, { px: KEEP_MS });
}

export async function readSnapshot(redis: Redis, eventId: string): Promise<EventSnapshot | null> {
  return redis.get<EventSnapshot>(key(eventId));
}
