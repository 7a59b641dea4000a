/**
 * `GET /health` is public: it reports states and coarse error classes, never error text, which
 * can quote SQL, commands and user ids. The text stays on the operator's `/v1/events/{id}/stats`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ERROR_CLASSES, type ErrorClass } from "../../platform/error-class.ts";
import { eventually, fault, type Health, healAll, setApiRunning, stats } from "../worker/cloud.ts";
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

/** Only the words of the public vocabulary, wherever an error is reported. */
function expectOnlyClasses(health: Health): void {
  for (const value of Object.values(health.errors)) expect(ERROR_CLASSES).toContain(value);
  for (const sink of Object.values(health.outbox?.sinks ?? {})) {
    if (sink.lastErrorClass !== null) expect(ERROR_CLASSES).toContain(sink.lastErrorClass);
    expect(sink).not.toHaveProperty("lastError");
  }
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

    // /health reports the same error by class only. Every answer on the way is checked.
    const seen = await eventually(
      readHealth,
      ({ text, health }) => {
        expect(text).not.toContain(marker);
        expect(text).not.toContain("errno");
        expectOnlyClasses(health);
        return health.outbox?.sinks.mysql.lastErrorClass === "rejected";
      },
      { what: "/health classing the refused record" },
    );
    expect(seen.text).not.toContain(marker);
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
