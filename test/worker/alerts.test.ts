/** The Cron Trigger and the operator's alert routes, inside workerd (the rules: test/unit/alerts.test.ts). */
import {
  createExecutionContext,
  createScheduledController,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index.ts";
import { admin, api, asUser } from "./helpers.ts";

describe("alerts", () => {
  it("the scheduled handler evaluates the rules without failing", async () => {
    const errors = vi.spyOn(console, "error");
    const ctx = createExecutionContext();
    worker.scheduled(
      createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(errors).not.toHaveBeenCalledWith(expect.stringContaining("alert evaluation failed"));
    errors.mockRestore();
  });

  it("an operator sees the open incidents and the thresholds, and can evaluate now", async () => {
    const res = await api("/v1/admin/alerts", { headers: admin() });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { open: unknown[]; thresholds: Record<string, unknown> };
    expect(Array.isArray(body.open)).toBe(true);
    expect(body.thresholds).toMatchObject({ p95Ms: 2000, errorRatePct: 5, webhook: false });

    const run = await api("/v1/admin/alerts/evaluate", { method: "POST", headers: admin() });
    expect(run.status).toBe(200);
    const evaluation = (await run.json()) as { evaluated: boolean; posted: unknown[] };
    expect(evaluation.posted).toEqual([]); // no ALERT_WEBHOOK_URL in tests
  });

  it("are for operators only", async () => {
    expect((await api("/v1/admin/alerts")).status).toBe(401);
    const res = await api("/v1/admin/alerts/evaluate", {
      method: "POST",
      headers: await asUser("alert-mallory"),
    });
    expect(res.status).toBe(403);
  });
});
