/** One JSON log line per request, with nothing secret in it. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildApp } from "../../src/app.ts";
import { ADMIN_TOKEN, createEvent, JWT_SECRET, ORIGIN, userToken } from "./helpers.ts";

// The test projects run with REQUEST_LOG=off (quiet output); this app gets it on.
const app = buildApp();
const logging = { ...env, REQUEST_LOG: "on" };

async function logged(
  path: string,
  init: RequestInit,
): Promise<{ res: Response; lines: string[] }> {
  const spy = vi.spyOn(console, "log").mockImplementation(() => {});
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${ORIGIN}${path}`, init), logging, ctx);
  await waitOnExecutionContext(ctx);
  const lines = spy.mock.calls.map((call) => String(call[0]));
  spy.mockRestore();
  return { res, lines };
}

afterEach(() => vi.restoreAllMocks());

describe("request logs", () => {
  it("a claim is one JSON line: request id, route, status, latency, event, a hash of the user", async () => {
    const event = await createEvent({ totalStock: 1 });
    const token = await userToken("log-alice");
    const { res, lines } = await logged(`/v1/events/${event.id}/claims`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(201);
    const coupon = (await res.json()) as { id: string };
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    expect(line).toMatchObject({
      level: "info",
      msg: "request",
      requestId: res.headers.get("X-Request-Id"),
      method: "POST",
      route: "/v1/events/{id}/claims",
      status: 201,
      event: event.id,
    });
    expect(line.ms).toBeTypeOf("number");
    expect(line.user).toMatch(/^[0-9a-f]{16}$/);
    // The same user hashes the same; never in clear, never the token, never the coupon id.
    const again = await logged(`/v1/events/${event.id}/claims`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(JSON.parse(again.lines[0] ?? "").user).toBe(line.user);
    for (const text of [...lines, ...again.lines]) {
      expect(text).not.toContain("log-alice");
      expect(text).not.toContain(token);
      expect(text).not.toContain(coupon.id);
      expect(text).not.toContain(JWT_SECRET);
    }
  });

  it("a refused operator call names its problem and carries no token", async () => {
    const { res, lines } = await logged("/v1/admin/metrics", {
      headers: { Authorization: "Bearer not-the-admin-token-at-all" },
    });
    expect(res.status).toBe(401);
    const line = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    expect(line).toMatchObject({ route: "/v1/admin/metrics", status: 401, slug: "unauthorized" });
    expect(lines.join("\n")).not.toContain("not-the-admin-token-at-all");
    expect(lines.join("\n")).not.toContain(ADMIN_TOKEN);
  });

  it("an unknown path is logged as unmatched, not by its path", async () => {
    const { res, lines } = await logged("/secret-looking/path?token=abc", {});
    expect(res.status).toBe(404);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ route: "unmatched", status: 404 });
    expect(lines[0]).not.toContain("secret-looking");
  });
});
