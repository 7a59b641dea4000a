import { describe, expect, it } from "vitest";
import {
  type EventDefinition,
  nextWaveAt,
  refuse,
  releasedAt,
  secondsUntil,
  stateOf,
} from "../../domain/ledger.ts";

const T0 = Date.UTC(2030, 0, 1);
const def: EventDefinition = {
  id: "e",
  name: "e",
  totalStock: 500,
  startsAt: T0,
  endsAt: T0 + 3_600_000,
  couponExpiresAt: null,
  waves: [
    { at: T0, quantity: 100 },
    { at: T0 + 60_000, quantity: 200 },
    { at: T0 + 180_000, quantity: 200 },
  ],
};
const open = { issued: 0, paused: false };

describe("the stock ledger", () => {
  it("releases each wave exactly at its time", () => {
    expect(releasedAt(def, T0 - 1)).toBe(0);
    expect(releasedAt(def, T0)).toBe(100);
    expect(releasedAt(def, T0 + 59_999)).toBe(100);
    expect(releasedAt(def, T0 + 60_000)).toBe(300);
    expect(releasedAt(def, T0 + 180_000)).toBe(500);
    expect(nextWaveAt(def, T0)).toBe(T0 + 60_000);
    expect(nextWaveAt(def, T0 + 180_000)).toBeNull();
  });

  it("orders states: ended, paused, scheduled, sold-out, awaiting-release, open", () => {
    expect(stateOf(def, open, T0 + 3_600_000)).toBe("ended");
    expect(stateOf(def, { issued: 0, paused: true }, T0 - 1)).toBe("paused");
    expect(stateOf(def, open, T0 - 1)).toBe("scheduled");
    expect(stateOf(def, { issued: 500, paused: false }, T0 + 200_000)).toBe("sold-out");
    expect(stateOf(def, { issued: 100, paused: false }, T0 + 1)).toBe("awaiting-release");
    expect(stateOf(def, { issued: 99, paused: false }, T0 + 1)).toBe("open");
  });

  it("refuses with whole-second Retry-After, rounded up and at least 1", () => {
    expect(refuse(def, open, T0 - 1500)).toEqual({ slug: "not-started", retryAfter: 2 });
    expect(refuse(def, { issued: 100, paused: false }, T0 + 59_999)).toEqual({
      slug: "awaiting-release",
      retryAfter: 1,
    });
    expect(refuse(def, { issued: 500, paused: false }, T0 + 200_000)).toEqual({ slug: "sold-out" });
    expect(refuse(def, open, T0)).toBeNull();
    expect(secondsUntil(T0, T0)).toBe(1);
  });
});
