/**
 * Issue 21 items 4-5: ids nobody created are neither counted per event (metrics, dashboard list)
 * nor able to push a real event out of the edge's snapshots. Refusals change nothing.
 */
import {
  createExecutionContext,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { buildApp } from "../../src/app.ts";
import { edgeServicesFor } from "../../src/services.ts";
import {
  admin,
  api,
  asUser,
  claim,
  createEvent,
  eventStub,
  ORIGIN,
  problemOf,
  uniqueId,
} from "./helpers.ts";
import type { TestCouponEvent as CouponEvent } from "./test-coupon-event.ts";

const objectClaims = (eventId: string) =>
  runInDurableObject(eventStub(eventId), (o: CouponEvent) => o.claimCalls);

/** Runs `fn` for 0..n-1, `width` at a time. */
async function inWaves(n: number, width: number, fn: (i: number) => Promise<void>) {
  for (let start = 0; start < n; start += width) {
    const end = Math.min(n, start + width);
    await Promise.all(Array.from({ length: end - start }, (_, k) => fn(start + k)));
  }
}

/** The event labels of `coupon_event_requests_total`, and the methods of the request counter. */
async function labels(): Promise<{ events: Set<string>; methods: Set<string> }> {
  const text = await (await api("/v1/admin/metrics", { headers: admin() })).text();
  const events = new Set(
    [...text.matchAll(/^coupon_event_requests_total\{event="([^"]*)"/gm)].map((m) => m[1] ?? ""),
  );
  const methods = new Set(
    [...text.matchAll(/^coupon_http_requests_total\{method="([^"]*)"/gm)].map((m) => m[1] ?? ""),
  );
  return { events, methods };
}

describe("unknown event ids", () => {
  it("are never counted per event: 2,000 invented ids over every route shape leave the metrics and the dashboard's list to real events", async () => {
    const real = await createEvent({ totalStock: 5 });
    expect((await claim(real.id, "metrics-real")).status).toBe(201);
    const probers = await Promise.all(Array.from({ length: 10 }, (_, i) => asUser(`prober-${i}`)));
    const invented: string[] = [];
    await inWaves(2_000, 100, async (i) => {
      const id = uniqueId(`ghost${i}`);
      const headers = probers[i % probers.length];
      invented.push(id);
      const res = await [
        () => api(`/v1/events/${id}`),
        () => api(`/v1/events/${id}/claims`, { method: "POST" }), // 401
        () => api(`/v1/events/${id}/claims`, { method: "POST", headers }),
        () => api(`/v1/coupons/cpn_${i}.${id}`, { headers }),
        () => api(`/v1/events/${id}/stats`, { headers: admin() }),
      ][i % 5]?.();
      expect([401, 404]).toContain(res?.status);
    });
    // Methods nobody serves (workerd passes WebDAV's) are one label, not one each.
    const webdav = ["PROPFIND", "MKCOL", "REPORT"];
    for (const method of webdav) {
      expect((await api(`/v1/events/${real.id}`, { method })).status).toBe(405);
    }

    const { events, methods } = await labels();
    expect(events.has(real.id)).toBe(true);
    expect(invented.filter((id) => events.has(id))).toEqual([]);
    expect(events.has("other")).toBe(false);
    expect([...methods].filter((m) => webdav.includes(m))).toEqual([]);
    expect(methods.has("OTHER")).toBe(true);

    const summary = await (
      await api("/v1/admin/metrics/summary?minutes=5", { headers: admin() })
    ).json<{ events: string[] }>();
    expect(summary.events).toContain(real.id);
    expect(invented.filter((id) => summary.events.includes(id))).toEqual([]);
    // Nothing changed for the real event: still one coupon issued.
    const stats = await (await api(`/v1/events/${real.id}/stats`, { headers: admin() })).json<{
      claims: { issued: number };
    }>();
    expect(stats.claims.issued).toBe(1);
  });

  it("a flood of 3,000 unknown ids leaves the hot event's fast path untouched: zero object calls for its sold-out refusals", async () => {
    const hot = await createEvent({ totalStock: 20 });
    for (let i = 0; i < 20; i++) expect((await claim(hot.id, `hot-holder-${i}`)).status).toBe(201);
    // The first refusal comes from the object, with the final holders for the edge.
    expect((await problemOf(await claim(hot.id, "hot-first-late"))).type).toBe(
      "/problems/sold-out",
    );
    expect(edgeServicesFor(env).events.knows(hot.id)).toBe(true);

    // Many flooders: one user's claims would meet the per-user claim budget (429) first.
    const flooders = await Promise.all(
      Array.from({ length: 30 }, (_, i) => asUser(`flooder-${i}`)),
    );
    await inWaves(3_000, 150, async (i) => {
      const headers = flooders[i % flooders.length];
      const id = uniqueId(`flood${i}`);
      const res =
        i % 2 === 0
          ? await api(`/v1/events/${id}`)
          : await api(`/v1/events/${id}/claims`, { method: "POST", headers });
      expect(res.status).toBe(404);
    });

    // The hot event's snapshot and holders are still here: refusals never reach its object.
    expect(edgeServicesFor(env).events.knows(hot.id)).toBe(true);
    const before = await objectClaims(hot.id);
    const late = await Promise.all(
      Array.from({ length: 300 }, (_, i) => claim(hot.id, `hot-late-${i}`)),
    );
    for (const res of late) expect((await problemOf(res)).type).toBe("/problems/sold-out");
    expect(await objectClaims(hot.id)).toBe(before);
    // Refused, not issued: the event still holds exactly its 20 coupons.
    const stats = await (await api(`/v1/events/${hot.id}/stats`, { headers: admin() })).json<{
      claims: { issued: number; rejected: Record<string, number> };
    }>();
    expect(stats.claims.issued).toBe(20);
    expect(stats.claims.rejected["sold-out"]).toBe(301);
  });

  it("the request log names no invented event: 200 reads of invented ids log no event, a real event's reads are tallied under it", async () => {
    const real = await createEvent();
    // The test projects run with REQUEST_LOG=off; this app gets the default (per-second tallies).
    const app = buildApp();
    const bindings = { ...env, REQUEST_LOG: "on" };
    const invented = Array.from({ length: 200 }, (_, i) => uniqueId(`logged${i}`));
    const spy = vi.spyOn(console, "log").mockImplementation(() => {});
    const ctx = createExecutionContext();
    for (const id of invented) {
      const res = await app.fetch(new Request(`${ORIGIN}/v1/events/${id}`), bindings, ctx);
      expect(res.status).toBe(404);
    }
    const res = await app.fetch(new Request(`${ORIGIN}/v1/events/${real.id}`), bindings, ctx);
    expect(res.status).toBe(200);
    await waitOnExecutionContext(ctx); // the tallies' second ends
    const lines = spy.mock.calls.map((call) => String(call[0]));
    spy.mockRestore();
    expect(lines.filter((line) => invented.some((id) => line.includes(id)))).toEqual([]);
    const tally = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "requests");
    expect(tally).toMatchObject({
      route: "/v1/events/{id}",
      status: 200,
      event: real.id,
      count: 1,
    });
  });
});
