/**
 * `GET /health` is public: it reports states and coarse error classes, never error text, which
 * can quote SQL, commands and user ids, nor a business figure (deliveries, events, dead letters).
 * The text stays on the operator's `/v1/events/{id}/stats`, the figures on the metrics summary.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ERROR_CLASSES, type ErrorClass } from "../../platform/error-class.ts";
import {
  eventually,
  fault,
  type Health,
  healAll,
  outboxTotals,
  setApiRunning,
  stats,
} from "../worker/cloud.ts";
import { api, claim, createEvent } from "../worker/helpers.ts";

// These tests break the shared gateway on purpose, so they run alone (see vitest.config.ts).
afterEach(healAll);

/** `/health` as sent (text), and parsed. */
async function readHealth(): Promise<{ text: string; health: Health }> {
  const res = await api("/health");
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, health: JSON.parse(text) as Health };
}

/** Only states and the words of the public vocabulary: no text, no figure. */
function expectOnlyClasses(health: Health): void {
  expect(Object.keys(health).sort()).toEqual(["errors", "sinks", "status"]);
  for (const value of Object.values(health.errors)) expect(ERROR_CLASSES).toContain(value);
  for (const state of Object.values(health.sinks)) expect(typeof state).toBe("string");
}

describe("/health shows no error text", () => {
  it("a refused record quoting a user id: the id is in the stats, never in /health", async () => {
    const marker = `leak-marker-${crypto.randomUUID()}`;
    const event = await createEvent({ totalStock: 3 });
    // MySQL refuses any statement naming this user, in an error that quotes the statement.
    await fault("planetscale", { rejectMatching: [marker] });
    expect((await claim(event.id, marker)).status).toBe(201);

    // The operator sees the raw text, the user id included.
    const s = await eventually(
      () => stats(event.id),
      (x) => x.sinks.mysql.lastError?.includes(marker) === true,
      { what: "the MySQL error quoting the user id in the stats" },
    );
    expect(s.sinks.mysql.lastError).toContain("errno 1644");

    // /health says the sink is retrying, with no text and no figure. Every answer is checked.
    const seen = await eventually(
      readHealth,
      ({ text, health }) => {
        expect(text).not.toContain(marker);
        expect(text).not.toContain("errno");
        expectOnlyClasses(health);
        return health.sinks.mysql === "retrying";
      },
      { what: "/health reporting the refused record's sink" },
    );
    expect(seen.text).not.toContain(marker);
    // The operator's summary names it by class.
    await eventually(outboxTotals, (o) => o?.sinks.mysql.lastErrorClass === "rejected", {
      what: "the summary classing the refused record",
    });
  });

  const probes: [string, () => Promise<void>, keyof Health["errors"], ErrorClass][] = [
    ["MySQL answering 500", () => fault("planetscale", { mode: "error" }), "mysql", "http-5xx"],
    ["Kafka answering 500", () => fault("kafka", { mode: "error" }), "kafka", "http-5xx"],
    ["Kafka hanging", () => fault("kafka", { mode: "hang" }), "kafka", "timeout"],
    ["Redis stopped", () => setApiRunning("upstashRedis", false), "redis", "unreachable"],
    ["MySQL stopped", () => setApiRunning("planetscale", false), "mysql", "unreachable"],
  ];

  for (const [what, breakIt, dependency, expected] of probes) {
    it(`${what}: /health says ${dependency} is ${expected}, without any text`, async () => {
      await breakIt();
      const { text, health } = await eventually(
        readHealth,
        ({ health }) => health.errors[dependency] === expected,
        { what: `/health reporting ${dependency}` },
      );
      expect(health.sinks[dependency]).toBe("retrying");
      expectOnlyClasses(health);
      // No message, address or status line of the failure.
      expect(text).not.toMatch(/injected fault|timed out|127\.0\.0\.1|HTTP \d{3}|Error:/);
    });
  }
});
