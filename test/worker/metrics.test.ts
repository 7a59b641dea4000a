/** GET /v1/admin/metrics and /summary count exactly what the Worker answered. */
import { describe, expect, it } from "vitest";
import type { RouteSummary } from "../../src/lib/metrics.ts";
import { admin, api, asUser, claim, createEvent } from "./helpers.ts";

/** The `coupon_event_requests_total` samples of one event: `status slug` → count. */
function eventCounts(text: string, eventId: string): Record<string, number> {
  const counts: Record<string, number> = {};
  const line =
    /^coupon_event_requests_total\{event="([^"]*)",status="(\d+)",slug="([^"]*)"\} (\d+)$/gm;
  for (const [, event, status, slug, n] of text.matchAll(line)) {
    if (event === eventId) counts[`${status} ${slug}`.trim()] = Number(n);
  }
  return counts;
}

describe("metrics", () => {
  it("the Prometheus text and the summary report exactly a known sequence of requests", async () => {
    const event = await createEvent({ totalStock: 2 }); // POST 201
    expect((await claim(event.id, "m-alice")).status).toBe(201);
    expect((await claim(event.id, "m-bob")).status).toBe(201);
    expect((await claim(event.id, "m-alice")).status).toBe(200); // the same coupon again
    expect((await claim(event.id, "m-carol")).status).toBe(409); // sold out
    expect((await api(`/v1/events/${event.id}`)).status).toBe(200);
    const me = await api(`/v1/events/${event.id}/claims/me`, { headers: await asUser("m-dave") });
    expect(me.status).toBe(404);

    const res = await api("/v1/admin/metrics", { headers: admin() });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(eventCounts(await res.text(), event.id)).toEqual({
      "201": 2, // two claims (the create names its event in the body, not the path)
      "200": 2, // the repeated claim and the read
      "409 sold-out": 1,
      "404 not-found": 1,
    });

    const summaryRes = await api(`/v1/admin/metrics/summary?minutes=5&event=${event.id}`, {
      headers: admin(),
    });
    expect(summaryRes.status).toBe(200);
    const summary = (await summaryRes.json()) as { event: string; routes: RouteSummary[] };
    expect(summary.event).toBe(event.id);
    const routes = Object.fromEntries(summary.routes.map((r) => [`${r.method} ${r.route}`, r]));
    expect(Object.keys(routes).sort()).toEqual([
      "GET /v1/events/{id}",
      "GET /v1/events/{id}/claims/me",
      "POST /v1/events/{id}/claims",
    ]);
    expect(routes["POST /v1/events/{id}/claims"]).toMatchObject({
      count: 4,
      errorRate: 0,
      byStatus: { 200: 1, 201: 2, 409: 1 },
      bySlug: { "sold-out": 1 },
    });
    const claims = routes["POST /v1/events/{id}/claims"];
    expect(claims?.p50Ms).not.toBeNull();
    expect(claims?.p99Ms).toBeGreaterThanOrEqual(claims?.p50Ms ?? 0);
    expect(routes["GET /v1/events/{id}/claims/me"]).toMatchObject({
      count: 1,
      byStatus: { 404: 1 },
      bySlug: { "not-found": 1 },
    });
  });

  it("are for operators only", async () => {
    for (const path of ["/v1/admin/metrics", "/v1/admin/metrics/summary"]) {
      expect((await api(path)).status).toBe(401);
      const asUserRes = await api(path, { headers: await asUser("m-eve") });
      expect(asUserRes.status).toBe(403);
      expect(asUserRes.headers.get("Cache-Control")).toBe("no-store");
    }
  });

  it("refuses a summary of more minutes than it keeps", async () => {
    const res = await api("/v1/admin/metrics/summary?minutes=16", { headers: admin() });
    expect(res.status).toBe(400);
  });
});
