import { describe, expect, it } from "vitest";
import { eventually, type Stats } from "../worker/cloud.ts";
import { admin, api, asUser, claim, createEvent, problemOf } from "../worker/helpers.ts";

// This project runs the Worker with no sink configured at all, as `wrangler dev` without the
// local cloud would: coupons are still issued, and nothing piles up.
describe("with no sink configured", () => {
  it("health says every sink is disabled and the service ok", async () => {
    expect(await (await api("/health")).json()).toEqual({
      status: "ok",
      sinks: { mysql: "disabled", kafka: "disabled", redis: "disabled" },
      errors: {},
    });
  });

  it("claims are still issued, and the outbox does not grow", async () => {
    const event = await createEvent({ totalStock: 5 });
    const answers = await Promise.all(["a", "b", "c"].map((u) => claim(event.id, u)));
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201]);
    const stats = await eventually(
      async () => (await api(`/v1/events/${event.id}/stats`, { headers: admin() })).json<Stats>(),
      (s) => s.outbox.pending === 0,
      { what: "outbox pruned" },
    );
    expect(stats.claims.issued).toBe(3);
    expect(stats.sinks.mysql).toMatchObject({ state: "disabled", delivered: 0, backlog: 0 });
    expect(stats.sinks.kafka).toMatchObject({ state: "disabled", delivered: 0, backlog: 0 });
  });

  it("GET /v1/me/coupons answers 503 unavailable", async () => {
    const res = await api("/v1/me/coupons", { headers: await asUser("a") });
    expect(res.status).toBe(503);
    expect((await problemOf(res)).type).toBe("/problems/unavailable");
    expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
  });
});
