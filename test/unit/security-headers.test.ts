import { type Env, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.ts";
import { securityHeaders } from "../../src/middleware/security-headers.ts";

/**
 * How many Response objects answering `path` builds. Hono builds a placeholder Response when a
 * middleware reads `c.res` before the handler, then copies it into the real answer: two extra.
 */
async function responsesBuilt<E extends Env>(app: Hono<E>, path: string): Promise<number> {
  const Original = globalThis.Response;
  let built = 0;
  globalThis.Response = class extends Original {
    constructor(...args: ConstructorParameters<typeof Response>) {
      super(...args);
      built++;
    }
  };
  try {
    const res = await app.request(path, {}, BINDINGS);
    await res.text();
  } finally {
    globalThis.Response = Original;
  }
  return built;
}

const BINDINGS = {
  JWT_SECRET: "unit-jwt-secret-0123456789abcdef-0123456789",
  ADMIN_TOKEN: "unit-admin-token-0123456789",
};

describe("the security headers middleware", () => {
  it("adds no placeholder Response: one answer, one Response", async () => {
    const app = new Hono().use(securityHeaders).get("/", (c) => c.json({ ok: true }));
    expect(await responsesBuilt(app, "/")).toBe(1);
    const res = await app.request("/");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });

  it("the count does see a placeholder (a middleware that sets a header before the handler)", async () => {
    const early = createMiddleware(async (c, next) => {
      c.res.headers.set("X-Early", "1");
      await next();
    });
    const app = new Hono().use(early).get("/", (c) => c.json({ ok: true }));
    expect(await responsesBuilt(app, "/")).toBeGreaterThan(1);
  });

  it("the whole app answers a small route with one Response", async () => {
    expect(await responsesBuilt(buildApp(), "/")).toBe(1);
  });
});
