/** The request aggregate behind GET /v1/admin/metrics and /summary, on a clock of its own. */
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { MetricsStore, type Sample } from "../../src/lib/metrics.ts";

const T0 = Date.parse("2026-09-12T14:00:00.000Z");
const claim = (status: number, slug: string, ms: number, eventId = "back-to-school"): Sample => ({
  method: "POST",
  route: "/v1/events/{id}/claims",
  status,
  slug,
  ms,
  eventId,
});

describe("the metrics aggregate", () => {
  it("the Prometheus text parses and reports exactly what was recorded", () => {
    const store = new MetricsStore(T0);
    store.record(claim(201, "", 12), T0 + 1000);
    store.record(claim(201, "", 30), T0 + 1000);
    store.record(claim(409, "sold-out", 3), T0 + 2000);
    store.record(claim(503, "unavailable", 3000), T0 + 2000);
    store.record(
      { method: "GET", route: "/v1/events/{id}", status: 200, slug: "", ms: 1, eventId: 'a"b' },
      T0 + 2000,
    );

    const families = parsePrometheusTextFormat(store.prometheus());
    const byName = new Map(families.map((f) => [f.name, f]));
    const requests = byName.get("coupon_http_requests_total");
    expect(requests?.type).toBe("COUNTER");
    expect(
      requests?.metrics.map((m) => [m.labels?.method, m.labels?.status, m.labels?.slug, m.value]),
    ).toEqual([
      ["GET", "200", "", "1"],
      ["POST", "201", "", "2"],
      ["POST", "409", "sold-out", "1"],
      ["POST", "503", "unavailable", "1"],
    ]);

    expect(byName.get("coupon_http_request_duration_seconds")?.type).toBe("HISTOGRAM");
    // The parser merges the buckets of a histogram's label sets into one, so they are read here.
    const bucket = (le: string) =>
      new RegExp(
        `^coupon_http_request_duration_seconds_bucket\\{method="POST",route="/v1/events/\\{id\\}/claims",le="${le.replace("+", "\\+")}"\\} (\\d+)$`,
        "m",
      ).exec(store.prometheus())?.[1];
    expect(bucket("0.005")).toBe("1"); // 3 ms
    expect(bucket("0.025")).toBe("2"); // + 12 ms
    expect(bucket("0.05")).toBe("3"); // + 30 ms
    expect(bucket("2")).toBe("3");
    expect(bucket("5")).toBe("4"); // + 3 s
    expect(bucket("+Inf")).toBe("4");

    const events = byName.get("coupon_event_requests_total");
    expect(
      events?.metrics.map((m) => [m.labels?.event, m.labels?.status, m.labels?.slug, m.value]),
    ).toEqual([
      ['a"b', "200", "", "1"], // label values are escaped
      ["back-to-school", "201", "", "2"],
      ["back-to-school", "409", "sold-out", "1"],
      ["back-to-school", "503", "unavailable", "1"],
    ]);
  });

  it("extra gauge families are appended and parse", () => {
    const store = new MetricsStore(T0);
    const text = store.prometheus([
      {
        name: "coupon_outbox_pending",
        help: "Outbox rows.",
        type: "gauge",
        samples: [{ labels: {}, value: 7 }],
      },
    ]);
    const families = parsePrometheusTextFormat(text);
    expect(families.find((f) => f.name === "coupon_outbox_pending")?.metrics[0]?.value).toBe("7");
  });

  it("the summary covers the last minutes only, with rates, error rate and percentiles", () => {
    const store = new MetricsStore(T0);
    // Ten minutes ago: outside a 5-minute window.
    for (let i = 0; i < 50; i++) store.record(claim(201, "", 10), T0 + 60_000);
    const now = T0 + 11 * 60_000 + 30_000;
    for (let i = 0; i < 95; i++) store.record(claim(409, "sold-out", 20), now - 90_000);
    for (let i = 0; i < 5; i++) store.record(claim(503, "unavailable", 4000), now - 1000);

    const summary = store.summary(5, now);
    expect(summary.windowSeconds).toBe(270); // four full minutes and the current half
    expect(summary.routes).toHaveLength(1);
    const route = summary.routes[0];
    expect(route).toMatchObject({
      method: "POST",
      route: "/v1/events/{id}/claims",
      count: 100,
      errorRate: 0.05,
      byStatus: { 409: 95, 503: 5 },
      bySlug: { "sold-out": 95, unavailable: 5 },
    });
    expect(route?.rps).toBeCloseTo(100 / 270, 3);
    // 95 answers in (10, 25] ms, 5 in (2, 5] s: interpolated inside the buckets.
    expect(route?.p50Ms).toBeCloseTo(10 + (15 * 50) / 95, 1);
    expect(route?.p95Ms).toBe(25);
    expect(route?.p99Ms).toBeCloseTo(2000 + (3000 * 4) / 5, 1);
    expect(summary.total.count).toBe(100);

    expect(store.summary(15, now).total.count).toBe(150);
  });

  it("the summary of one event leaves the others out", () => {
    const store = new MetricsStore(T0);
    store.record(claim(201, "", 5, "one"), T0 + 1000);
    store.record(claim(201, "", 5, "two"), T0 + 1000);
    store.record(claim(409, "sold-out", 5, "two"), T0 + 1000);
    const two = store.summary(5, T0 + 2000, "two");
    expect(two.event).toBe("two");
    expect(two.total).toMatchObject({ count: 2, byStatus: { 201: 1, 409: 1 } });
    expect(store.summary(5, T0 + 2000, "three").routes).toEqual([]);
  });
});
