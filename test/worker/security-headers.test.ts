import { describe, expect, it } from "vitest";
import { admin, api, asUser, claim, createEvent } from "./helpers.ts";

/** A `curl -I` of the path: HEAD, headers only. */
async function head(path: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await api(path, { method: "HEAD", headers });
  await res.body?.cancel();
  return res;
}

const STRICT_CSP =
  "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

describe("security headers (curl -I)", () => {
  it("every answer carries them, with a CSP that lets nothing load", async () => {
    for (const path of ["/", "/health", "/openapi.json", "/problems/sold-out", "/no-such-route"]) {
      const res = await head(path);
      expect(res.headers.get("Content-Security-Policy"), path).toBe(STRICT_CSP);
      expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
      expect(res.headers.get("X-Frame-Options"), path).toBe("DENY");
      expect(res.headers.get("Referrer-Policy"), path).toBe("no-referrer");
      expect(res.headers.get("Strict-Transport-Security"), path).toMatch(/^max-age=\d+/);
      expect(res.headers.get("Cross-Origin-Opener-Policy"), path).toBe("same-origin");
    }
  });

  it("the API reference page allows its own scripts and styles, nothing else", async () => {
    const res = await head("/docs");
    expect(res.status).toBe(200);
    const csp = res.headers.get("Content-Security-Policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("style-src 'self';");
    expect(csp).toContain("connect-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-|https?:|\*/);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });

  it("the reference's renderer is served by the Worker from its static assets", async () => {
    const page = await (await api("/docs")).text();
    const sources = [...page.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map((m) => m[1]);
    expect(sources).toEqual([
      "/docs/swagger-ui/swagger-ui.css",
      "/docs/swagger-ui/swagger-ui-bundle.js",
      "/docs/reference.js",
    ]);
    for (const path of sources as string[]) {
      const res = await api(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("Content-Type"), path).toMatch(/^text\/(css|javascript)/);
      expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
      expect((await res.text()).length, path).toBeGreaterThan(100);
    }
    expect((await api("/docs/swagger-ui/missing.js")).status).toBe(404);
    expect((await api("/docs/../wrangler.toml")).status).toBe(404);
  });
});

describe("Cache-Control: no-store on authenticated answers", () => {
  it("a user's coupon and coupon list, and the operator's stats", async () => {
    const event = await createEvent();
    await claim(event.id, "cache-user");
    const user = await asUser("cache-user");
    const answers = {
      claim: await claim(event.id, "cache-user"),
      mine: await head(`/v1/events/${event.id}/claims/me`, user),
      list: await head("/v1/me/coupons", user),
      stats: await head(`/v1/events/${event.id}/stats`, admin()),
      pause: await api(`/v1/events/${event.id}/pause`, { method: "POST", headers: admin() }),
    };
    for (const [what, res] of Object.entries(answers)) {
      await res.body?.cancel();
      expect(res.headers.get("Cache-Control"), what).toBe("no-store");
    }
  });

  it("401 and 403 answers", async () => {
    const event = await createEvent();
    const missing = await head(`/v1/events/${event.id}/claims/me`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("Cache-Control")).toBe("no-store");
    const userOnOperatorRoute = await head(`/v1/events/${event.id}/stats`, await asUser("u"));
    expect(userOnOperatorRoute.status).toBe(403);
    expect(userOnOperatorRoute.headers.get("Cache-Control")).toBe("no-store");
  });

  it("a public read keeps its own short cache, with or without a token", async () => {
    const event = await createEvent();
    for (const headers of [{}, await asUser("reader")]) {
      const res = await head(`/v1/events/${event.id}`, headers);
      expect(res.status).toBe(200);
      expect(res.headers.get("Cache-Control")).toBe("public, max-age=1");
    }
  });
});
