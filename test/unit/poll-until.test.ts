import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { pollUntil } from "../../src/lib/poll-until.ts";

describe("pollUntil", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers true at once when already done, and soon after it becomes done", async () => {
    expect(await pollUntil(() => true, 1_000)).toBe(true);
    let done = false;
    const waiting = pollUntil(() => done, 1_000);
    await vi.advanceTimersByTimeAsync(40);
    done = true;
    await vi.advanceTimersByTimeAsync(16); // the longest pause
    expect(await waiting).toBe(true);
  });

  it("answers false after the timeout, backing off so a long wait costs few wake-ups", async () => {
    let checks = 0;
    const waiting = pollUntil(() => {
      checks++;
      return false;
    }, 500);
    await vi.advanceTimersByTimeAsync(520);
    expect(await waiting).toBe(false);
    // 1+2+4+8 ms, then every 16 ms: about 35 checks in half a second, not 500.
    expect(checks).toBeLessThan(40);
  });
});
