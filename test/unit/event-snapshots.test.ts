/** The edge's snapshot cache is bounded by design and evicts real events by use (issue 21 items 5, 12). */
import { describe, expect, it } from "vitest";
import { buildHoldersFilter } from "../../domain/holders-filter.ts";
import type { EventDefinition } from "../../domain/ledger.ts";
import {
  EventSnapshots,
  MAX_EVENT_BYTES,
  MAX_EVENTS,
  MAX_UNKNOWN,
  UNKNOWN_TTL_MS,
} from "../../src/lib/event-snapshots.ts";

const def = (id: string): EventDefinition => ({
  id,
  name: id,
  totalStock: 10,
  startsAt: 0,
  endsAt: null,
  couponExpiresAt: null,
  waves: [{ at: 0, quantity: 10 }],
});
const counters = (version: number) => ({ version, issued: 0, paused: false, asOf: 1_000 });

describe("EventSnapshots", () => {
  it("unknown ids live apart: 10,000 of them keep at most MAX_UNKNOWN and never drop a real event", () => {
    const cache = new EventSnapshots();
    cache.update("hot", counters(1), null, def("hot"));
    for (let i = 0; i < 10_000; i++) cache.markUnknown(`ghost-${i}`, 5_000);
    expect(cache.size.unknown).toBe(MAX_UNKNOWN);
    expect(cache.knows("hot")).toBe(true);
    expect(cache.isUnknown("ghost-9999", 5_000 + UNKNOWN_TTL_MS)).toBe(true);
    expect(cache.isUnknown("ghost-9999", 5_001 + UNKNOWN_TTL_MS)).toBe(false);
    expect(cache.isUnknown("ghost-0", 5_000)).toBe(false); // pushed out: asked again, no harm
  });

  it("real events are evicted least recently used first", () => {
    const cache = new EventSnapshots();
    for (let i = 0; i < MAX_EVENTS; i++) cache.update(`e${i}`, counters(1), null, def(`e${i}`));
    cache.use("e0"); // the oldest, but in use
    cache.update("newcomer", counters(1), null, def("newcomer"));
    expect(cache.size.events).toBe(MAX_EVENTS);
    expect(cache.knows("e0")).toBe(true);
    expect(cache.knows("e1")).toBe(false);
    expect(cache.knows("newcomer")).toBe(true);
  });

  it("holders filters count against a byte budget: past it, the least recently used events go", () => {
    const cache = new EventSnapshots();
    const big = buildHoldersFilter(
      Array.from({ length: 900_000 }, (_, i) => `user-${i}`),
      900_000,
    );
    const n = Math.ceil(MAX_EVENT_BYTES / (1024 * 1024)) + 5;
    for (let i = 0; i < n; i++) {
      cache.update(`big${i}`, counters(1), big, def(`big${i}`));
      cache.use("big0");
    }
    expect(cache.size.bytes).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(cache.knows("big0")).toBe(true);
    expect(cache.knows("big1")).toBe(false);
    expect(cache.knows(`big${n - 1}`)).toBe(true);
  });

  it("a known id marked unknown (the directory lost it) is dropped, and a create clears the mark", () => {
    const cache = new EventSnapshots();
    cache.update("e", counters(1), null, def("e"));
    cache.markUnknown("e", 0);
    expect(cache.knows("e")).toBe(false);
    expect(cache.isUnknown("e", 0)).toBe(true);
    cache.update("e", counters(2), null, def("e"));
    expect(cache.isUnknown("e", 0)).toBe(false);
    expect(cache.use("e")?.snapshot.version).toBe(2);
  });
});
