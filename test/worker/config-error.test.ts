import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.ts";

describe("an invalid configuration", () => {
  it("is a 503 `unavailable` that names no setting and no value", async () => {
    const res = await buildApp().request(
      "/v1/events/back-to-school",
      {},
      { ...env, JWT_SECRET: "short" },
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
    expect(res.headers.get("Retry-After")).toBe("60");
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ type: "/problems/unavailable", status: 503 });
    expect(body).not.toMatch(/JWT_SECRET|short/);
  });
});
