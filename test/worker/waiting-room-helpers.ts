import { runInDurableObject } from "cloudflare:test";
import { DRAW_GRACE_MS } from "../../domain/admission.ts";
import { ManualClock } from "../../domain/clock.ts";
import type { EventView } from "../../domain/views.ts";
import { flushJoinReports } from "../../src/lib/waiting-room-client.ts";
import type { QueueStatusBody, QueueTicket } from "../../src/schemas/queue.ts";
import { api, asUser, createEvent, eventStub, getEvent, useClock } from "./helpers.ts";
import type { TestCouponEvent } from "./test-coupon-event.ts";

export const SECOND = 1_000;

/** A fresh event with a room, opened a minute before `startsAt`, its clock at `opensAt`. */
export async function roomEvent(opts: {
  totalStock: number;
  margin?: number;
  admitSeconds?: number;
  /** Waves by offset from `startsAt`. */
  waves?: { offset: number; quantity: number }[];
}): Promise<{ event: EventView; clock: ManualClock; t0: number; opensAt: number }> {
  // Far ahead and distinct per event: the object's real alarms never fire during a test.
  const t0 = Date.UTC(2035, 0, 1) + Math.floor(Math.random() * 1e9) * 1000;
  const opensAt = t0 - 60 * SECOND;
  const at = (ms: number) => new Date(ms).toISOString();
  const event = await createEvent({
    totalStock: opts.totalStock,
    startsAt: at(t0),
    ...(opts.waves
      ? { waves: opts.waves.map((w) => ({ at: at(t0 + w.offset), quantity: w.quantity })) }
      : {}),
    queue: {
      opensAt: at(opensAt),
      ...(opts.margin === undefined ? {} : { margin: opts.margin }),
      ...(opts.admitSeconds === undefined ? {} : { admitSeconds: opts.admitSeconds }),
    },
  });
  const clock = new ManualClock(opensAt);
  await useClock(event.id, clock);
  return { event, clock, t0, opensAt };
}

export async function join(eventId: string, userId: string, ticket?: string): Promise<Response> {
  return api(`/v1/events/${eventId}/queue`, {
    method: "POST",
    headers: { ...(await asUser(userId)), ...(ticket ? { "Queue-Ticket": ticket } : {}) },
  });
}

export async function ticketOf(eventId: string, userId: string): Promise<string> {
  const res = await join(eventId, userId);
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`join: ${res.status} ${await res.text()}`);
  return ((await res.json()) as QueueTicket).ticket;
}

export async function status(eventId: string, userId: string, ticket?: string): Promise<Response> {
  return api(`/v1/events/${eventId}/queue/me`, {
    headers: { ...(await asUser(userId)), ...(ticket ? { "Queue-Ticket": ticket } : {}) },
  });
}

export async function statusOf(
  eventId: string,
  userId: string,
  ticket: string,
): Promise<QueueStatusBody> {
  const res = await status(eventId, userId, ticket);
  if (res.status !== 200) throw new Error(`status: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function claimWith(
  eventId: string,
  userId: string,
  ticket?: string,
): Promise<Response> {
  return api(`/v1/events/${eventId}/claims`, {
    method: "POST",
    headers: { ...(await asUser(userId)), ...(ticket ? { "Queue-Ticket": ticket } : {}) },
  });
}

/** Hands this isolate's pending joins to the object (what the edge's 1 s report does). */
export const reportJoins = (eventId: string) => flushJoinReports(eventId);

/**
 * Moves the clock and brings this isolate's snapshot up to date: a read past the fresh window
 * loads it (from the object, which draws, lapses and admits as of its clock).
 */
export async function moveTo(eventId: string, clock: ManualClock, at: number): Promise<EventView> {
  clock.set(at);
  clock.advance(0);
  return getEvent(eventId);
}

/** Past the draw: every join reported before it counts by the seed. */
export async function drawn(eventId: string, clock: ManualClock, t0: number): Promise<EventView> {
  await reportJoins(eventId);
  return moveTo(eventId, clock, t0 + DRAW_GRACE_MS + 1);
}

export function objectCounts(eventId: string) {
  return runInDurableObject(eventStub(eventId), (o: TestCouponEvent) => ({
    joinReports: o.joinReports,
    joinsReported: o.joinsReported,
    roomTableCalls: o.roomTableCalls,
    claimCalls: o.claimCalls,
  }));
}

export const users = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** Runs `fn` over `items` with at most `width` at a time (a crowd the test runner can carry). */
export async function crowd<T, R>(
  items: T[],
  width: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}
