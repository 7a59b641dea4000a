import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Clock } from "../../domain/clock.ts";
import { shardName } from "../../domain/shards.ts";
import { edgeClocks } from "../../src/lib/event-client.ts";
import { admin, api, claim } from "./helpers.ts";
import type { TestCouponEvent as CouponEvent } from "./test-coupon-event.ts";

export interface Answer {
  user: string;
  status: number;
  /** The coupon's id (2xx) or the problem's slug. */
  id?: string;
  slug?: string;
  /** Where this answer came in the order of all answers. */
  order: number;
}

/** A shard's object, typed as the test subclass. */
export function shardStub(eventId: string, k: number): DurableObjectStub<CouponEvent> {
  const ns = env.COUPON_EVENT;
  return ns.get(ns.idFromName(shardName(eventId, k))) as unknown as DurableObjectStub<CouponEvent>;
}

/** Sets `clock` on the edge, the coordinator and every shard (ManualClock tests). */
export async function useShardedClock(eventId: string, shards: number, clock: Clock) {
  edgeClocks.set(eventId, clock);
  const ns = env.COUPON_EVENT;
  const names = [eventId, ...Array.from({ length: shards }, (_, k) => shardName(eventId, k))];
  for (const name of names) {
    const stub = ns.get(ns.idFromName(name)) as unknown as DurableObjectStub<CouponEvent>;
    await runInDurableObject(stub, (o: CouponEvent) => {
      o.clock = clock;
    });
  }
}

/**
 * Every claim at once (in waves of `concurrency`), each retried after a 503 as a client would;
 * the answers in the order they came.
 */
export async function burst(
  eventId: string,
  users: string[],
  concurrency = users.length,
  afterWave?: (wave: readonly Answer[]) => Promise<void>,
) {
  const answers: Answer[] = [];
  let order = 0;
  const one = async (user: string) => {
    for (let attempt = 0; ; attempt++) {
      const res = await claim(eventId, user);
      if (res.status === 503 && attempt < 20) {
        await res.body?.cancel();
        continue;
      }
      const body = await res.json<{ id?: string; type?: string }>();
      answers.push({
        user,
        status: res.status,
        order: order++,
        ...(body.id ? { id: body.id } : {}),
        ...(body.type ? { slug: body.type.replace("/problems/", "") } : {}),
      });
      return;
    }
  };
  for (let i = 0; i < users.length; i += concurrency) {
    const from = answers.length;
    await Promise.all(users.slice(i, i + concurrency).map(one));
    await afterWave?.(answers.slice(from));
  }
  return answers;
}

export async function eventStats(eventId: string) {
  const res = await api(`/v1/events/${eventId}/stats`, { headers: admin() });
  if (res.status !== 200) throw new Error(`stats: ${res.status}`);
  return res.json<{
    event: { issued: number; released: number; state: string; shards?: number };
    claims: { issued: number; rejected: Record<string, number> };
    outbox: { pending: number };
  }>();
}

/** One user's answers all name the same coupon, or all are refusals. */
export function couponsByUser(answers: readonly Answer[]): Map<string, Set<string>> {
  const byUser = new Map<string, Set<string>>();
  for (const a of answers) {
    const ids = byUser.get(a.user) ?? new Set<string>();
    ids.add(a.id ?? `refused:${a.slug}`);
    byUser.set(a.user, ids);
  }
  return byUser;
}
