/** One JSON log line per request, with nothing secret in it. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildApp } from "../../src/app.ts";
import { ADMIN_TOKEN, createEvent, JWT_SECRET, ORIGIN, userToken } from "./helpers.ts";

// The test projects run with REQUEST_LOG=off (quiet output); these apps get it on.
const app = buildApp();
const every = { ...env, REQUEST_LOG: "all" };
const tallied = { ...env, REQUEST_LOG: "on" };

async function logged(
  path: string,
  init: RequestInit,
  bindings: Env = every,
): Promise<{ res: Response; lines: string[] }> {
  const spy = vi.spyOn(console, "log").mockImplementation(() => {});
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${ORIGIN}${path}`, init), bindings, ctx);
  // Also waits for the second after which successes are logged as one line (REQUEST_LOG=on).
  await waitOnExecutionContext(ctx);
  const lines = spy.mock.calls.map((call) => String(call[0]));
  spy.mockRestore();
  return { res, lines };
}

afterEach(() => vi.restoreAllMocks());

describe("request logs", () => {
  it("by default successes and 409s are one line per second and kind; errors one line each", async () => {
    const event = await createEvent({ totalStock: 1 });
    const claim = async (sub: string) =>
      logged(
        `/v1/events/${event.id}/claims`,
        { method: "POST", headers: { Authorization: `Bearer ${await userToken(sub)}` } },
        tallied,
      );
    const issued = await claim("tally-alice");
    expect(issued.res.status).toBe(201);
    const line = JSON.parse(issued.lines[0] ?? "") as Record<string, unknown>;
    expect(issued.lines).toHaveLength(1);
    expect(line).toMatchObject({
      level: "info",
      msg: "requests",
      method: "POST",
      route: "/v1/events/{id}/claims",
      status: 201,
      event: event.id,
      count: 1,
    });
    expect(line.msMax).toBeTypeOf("number");
    expect(issued.lines[0]).not.toContain("tally-alice");
    // A 409 is tallied too; a 401 is an error of its own, at once, with its request id.
    expect((await claim("tally-bob")).lines[0]).toContain('"slug":"sold-out"');
    const refused = await logged(
      "/v1/admin/metrics",
      { headers: { Authorization: "Bearer not-the-admin-token-at-all" } },
      tallied,
    );
    expect(refused.res.status).toBe(401);
    expect(JSON.parse(refused.lines[0] ?? "")).toMatchObject({
      msg: "request",
      status: 401,
      requestId: refused.res.headers.get("X-Request-Id"),
    });
  });

  it("with REQUEST_LOG=all a claim is one JSON line: request id, route, status, latency, event, a hash of the user", async () => {
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
