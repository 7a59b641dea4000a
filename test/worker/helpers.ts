import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { sign } from "hono/jwt";
import type { Clock } from "../../domain/clock.ts";
import type { EventView } from "../../domain/views.ts";
import { edgeClocks } from "../../src/lib/event-client.ts";
import type { CreateEventInput } from "../../src/schemas/event.ts";
import type { TestCouponEvent as CouponEvent } from "./test-coupon-event.ts";

export const ORIGIN = "https://coupons.test";
export const JWT_SECRET = "test-jwt-secret-0123456789abcdef-0123456789";
export const ADMIN_TOKEN = "test-admin-token-0123456789";

/** A request through the real Worker entry (middleware, routes, Durable Objects). */
export function api(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, init));
}

export function admin(extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${ADMIN_TOKEN}`, ...extra };
}

export async function userToken(
  sub: string,
  claims: Record<string, unknown> = {},
  secret = JWT_SECRET,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub, iat: now, exp: now + 600, ...claims }, secret, "HS256");
}

export async function asUser(sub: string): Promise<Record<string, string>> {
  return { Authorization: `Bearer ${await userToken(sub)}` };
}

export const uniqueId = (prefix = "evt"): string => `${prefix}-${crypto.randomUUID().slice(0, 12)}`;

/** An open event of `totalStock` (started a minute ago) with a fresh id, unless overridden. */
export function eventInput(overrides: Partial<CreateEventInput> = {}): CreateEventInput {
  return {
    id: uniqueId(),
    name: "Back to school",
    totalStock: 10,
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    ...overrides,
  };
}

export async function createEvent(overrides: Partial<CreateEventInput> = {}): Promise<EventView> {
  const res = await api("/v1/events", {
    method: "POST",
    headers: admin({ "Content-Type": "application/json" }),
    body: JSON.stringify(eventInput(overrides)),
  });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function getEvent(id: string): Promise<EventView> {
  const res = await api(`/v1/events/${id}`);
  if (res.status !== 200) throw new Error(`get failed: ${res.status}`);
  return res.json();
}

export async function claim(eventId: string, userId: string): Promise<Response> {
  return api(`/v1/events/${eventId}/claims`, {
    method: "POST",
    headers: { ...(await asUser(userId)), Origin: "https://shop.example" },
  });
}

/** The event's object, typed as the test subclass the Worker tests bind (test/worker/entry.ts). */
export function eventStub(eventId: string): DurableObjectStub<CouponEvent> {
  const stub = env.COUPON_EVENT.get(env.COUPON_EVENT.idFromName(eventId));
  return stub as unknown as DurableObjectStub<CouponEvent>;
}

/**
 * Makes the event's object, and the Worker's edge snapshot of it, read time from `clock`. Both
 * run in this test's isolate, so later `clock.advance()` calls move their time without sleeping.
 */
export async function useClock(eventId: string, clock: Clock): Promise<void> {
  edgeClocks.set(eventId, clock);
  await runInDurableObject(eventStub(eventId), (instance: CouponEvent) => {
    instance.clock = clock;
  });
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

/** Asserts a problem+json answer and returns its body. */
export async function problemOf(res: Response): Promise<Problem> {
  const type = res.headers.get("Content-Type") ?? "";
  if (!type.startsWith("application/problem+json")) {
    throw new Error(`expected problem+json, got ${res.status} ${type}: ${await res.text()}`);
  }
  const body = (await res.json()) as Problem;
  if (body.status !== res.status) throw new Error(`problem status ${body.status} != ${res.status}`);
  return body;
}
