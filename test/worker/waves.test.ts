import { describe, expect, it } from "vitest";
import { ManualClock } from "../../domain/clock.ts";
import { claim, createEvent, getEvent, problemOf, useClock } from "./helpers.ts";

const MINUTE = 60_000;

describe("waves release stock as (injected) time passes", () => {
  it("100/200/200 at t0, t0+1 min, t0+3 min: never more issued than released", async () => {
    const t0 = Date.UTC(2030, 8, 12, 14, 0, 0);
    const at = (ms: number) => new Date(ms).toISOString();
    const event = await createEvent({
      totalStock: 500,
      startsAt: at(t0),
      waves: [
        { at: at(t0), quantity: 100 },
        { at: at(t0 + MINUTE), quantity: 200 },
        { at: at(t0 + 3 * MINUTE), quantity: 200 },
      ],
    });
    const clock = new ManualClock(t0 - 5_000);
    await useClock(event.id, clock);

    // Before the start: not-started, Retry-After = seconds to start.
    const early = await claim(event.id, "early-bird");
    expect((await problemOf(early)).type).toBe("/problems/not-started");
    expect(early.headers.get("Retry-After")).toBe("5");
    expect((await getEvent(event.id)).state).toBe("scheduled");

    // Wave 1: 150 users for 100 coupons.
    clock.set(t0);
    let users = 0;
    const rush = async (n: number) => {
      const batch = Array.from({ length: n }, () => `u${users++}`);
      return Promise.all(batch.map((u) => claim(event.id, u)));
    };
    let answers = await rush(150);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(100);
    const waiting = answers.filter((r) => r.status === 409);
    expect(waiting).toHaveLength(50);
    for (const res of waiting) {
      expect((await problemOf(res)).type).toBe("/problems/awaiting-release");
      expect(res.headers.get("Retry-After")).toBe("60");
    }
    expect(await getEvent(event.id)).toMatchObject({
      state: "awaiting-release",
      released: 100,
      issued: 100,
      remaining: 0,
      nextWaveAt: at(t0 + MINUTE),
    });

    // Half a minute later the Retry-After counts down.
    clock.set(t0 + 30_000 + 400);
    const halfway = await claim(event.id, "impatient");
    expect(halfway.headers.get("Retry-After")).toBe("30");

    // Wave 2.
    clock.set(t0 + MINUTE);
    answers = await rush(250);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(200);
    const afterWave2 = await getEvent(event.id);
    expect(afterWave2).toMatchObject({ released: 300, issued: 300, state: "awaiting-release" });
    const retry = answers.find((r) => r.status === 409);
    expect(retry?.headers.get("Retry-After")).toBe("120");

    // Wave 3, then sold out for good.
    clock.set(t0 + 3 * MINUTE);
    answers = await rush(260);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(200);
    const soldOut = answers.filter((r) => r.status === 409);
    expect(soldOut).toHaveLength(60);
    expect((await problemOf(soldOut[0] as Response)).type).toBe("/problems/sold-out");
    expect(soldOut[0]?.headers.get("Retry-After")).toBeNull();
    expect(await getEvent(event.id)).toMatchObject({
      state: "sold-out",
      released: 500,
      issued: 500,
      nextWaveAt: null,
    });
  });

  it("released never runs ahead of the clock at any sampled moment", async () => {
    const t0 = Date.UTC(2031, 0, 1);
    const event = await createEvent({
      totalStock: 30,
      startsAt: new Date(t0).toISOString(),
      waves: [0, 1, 2].map((i) => ({ at: new Date(t0 + i * MINUTE).toISOString(), quantity: 10 })),
    });
    const clock = new ManualClock(t0);
    await useClock(event.id, clock);
    for (let step = 0; step <= 8; step++) {
      clock.set(t0 + step * 20_000);
      await Promise.all(Array.from({ length: 7 }, (_, i) => claim(event.id, `s${step}-${i}`)));
      const view = await getEvent(event.id);
      expect(view.issued).toBeLessThanOrEqual(view.released);
      expect(view.released).toBe(10 * (Math.floor((step * 20_000) / MINUTE) + 1));
    }
  });
});
