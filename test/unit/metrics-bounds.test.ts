/** The request aggregate stays bounded however many events it hears of (issue 21 items 4, 12). */
import { describe, expect, it } from "vitest";
import { MetricsStore, type Sample } from "../../src/lib/metrics.ts";

const T0 = Date.parse("2026-09-12T14:00:00.000Z");
const read = (eventId: string): Sample => ({
  method: "GET",
  route: "/v1/events/{id}",
  status: 200,
  slug: "",
  ms: 1,
  eventId,
});

/** The events of `coupon_event_requests_total`, in the order the text lists them. */
const eventsIn = (text: string) =>
  new Set([...text.matchAll(/^coupon_event_requests_total\{event="([^"]*)"/gm)].map((m) => m[1]));

describe("the metrics aggregate's bounds", () => {
  it("keeps at most 1,000 events, dropping the least recently counted; the busy one stays", () => {
    const store = new MetricsStore(T0);
    store.record(read("busy"), T0);
    for (let i = 0; i < 5_000; i++) {
      store.record(read(`e${i}`), T0 + 1);
      if (i % 500 === 0) store.record(read("busy"), T0 + 1);
    }
    const events = eventsIn(store.prometheus());
    expect(events.size).toBe(1_000);
    expect(events.has("busy")).toBe(true);
    expect(events.has("e4999")).toBe(true);
    expect(events.has("e0")).toBe(false);
    expect(events.has("other")).toBe(false);
    expect(store.eventIds(2_000).length).toBe(1_000);
  });

  it("per-event route slots of one minute are capped; the route totals still count every request", () => {
    const store = new MetricsStore(T0);
    for (let i = 0; i < 10_000; i++) store.record(read(`e${i % 1_000}-${i}`), T0 + 1);
    const summary = store.summary(1, T0 + 2);
    expect(summary.total.count).toBe(10_000);
    // One event's own summary: present while under the cap, absent past it.
    expect(store.summary(1, T0 + 2, "e0-0").total.count).toBe(1);
    expect(store.summary(1, T0 + 2, "e999-9999").total.count).toBe(0);
  });
});
