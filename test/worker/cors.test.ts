import { describe, expect, it } from "vitest";
import { api, claim, createEvent } from "./helpers.ts";

describe("browser clients (CORS)", () => {
  it("a preflight for a claim allows POST with Authorization from any origin", async () => {
    const res = await api("/v1/events/some-event/claims", {
      method: "OPTIONS",
      headers: {
        Origin: "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    expect(res.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain(
      "authorization",
    );
  });

  it("a refused claim lets the page read Retry-After and the request id", async () => {
    const event = await createEvent({ startsAt: new Date(Date.now() + 60_000).toISOString() });
    const res = await claim(event.id, "browser-user");
    expect(res.status).toBe(409);
    const exposed = res.headers.get("Access-Control-Expose-Headers") ?? "";
    expect(exposed).toContain("Retry-After");
    expect(exposed).toContain("X-Request-Id");
  });
});
