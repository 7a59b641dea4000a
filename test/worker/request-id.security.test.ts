/**
 * A client's X-Request-Id is echoed, logged and quoted in a 500's detail: it is kept only when
 * short (≤ 64) and of [A-Za-z0-9_=-]; anything else is replaced by a fresh id and appears nowhere.
 * Error logs name the route template, never the raw path (coupon ids are bearer-like).
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { prng } from "../../loadtest/prng.ts";
import { buildApp } from "../../src/app.ts";
import { ORIGIN } from "./helpers.ts";

const app = buildApp();
// A route that fails, to see what a 500 quotes and logs.
app.get("/v1/test-failures/:couponId", () => {
  throw new Error("boom");
});
const logging = { ...env, REQUEST_LOG: "on" };
const SEED = Date.now() >>> 0;

async function send(path: string, requestId: string) {
  const out = vi.spyOn(console, "log").mockImplementation(() => {});
  const err = vi.spyOn(console, "error").mockImplementation(() => {});
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`${ORIGIN}${path}`, {
      headers: { "X-Request-Id": requestId, "CF-Connecting-IP": "198.51.100.30" },
    }),
    logging,
    ctx,
  );
  // Not waiting for `waitUntil` work: the lines that name a request are written as it ends.
  const logs = [...out.mock.calls, ...err.mock.calls].map((call) => String(call[0]));
  out.mockRestore();
  err.mockRestore();
  return { res, body: await res.text(), logs };
}

/** Header values a client can send (printable ASCII; workerd warns on more), all unsafe. */
function unsafeIds(): string[] {
  const next = prng(SEED);
  const printable = Array.from({ length: 0x7f - 0x20 }, (_, i) =>
    String.fromCharCode(0x20 + i),
  ).join("");
  const random = Array.from({ length: 60 }, () => {
    const n = 12 + Math.floor(next() * 90);
    let id = "";
    for (let i = 0; i < n; i++) id += printable[Math.floor(next() * printable.length)];
    // Keep only those that break the rule (a random one may happen to be safe).
    return /^[A-Za-z0-9_=-]{1,64}$/.test(id.trim()) ? `${id} x` : id;
  });
  return [
    "a".repeat(65),
    "a".repeat(5000),
    "has space",
    '"quoted"',
    "<script>alert(1)</script>",
    "id\ttab",
    'json","level":"fake',
    "../../etc/passwd",
    "user@example.com",
    "semi;colon",
    "dots.are.out",
    ...random,
  ];
}

afterEach(() => vi.restoreAllMocks());

/** The request ids the log lines name (a line may aggregate many requests and name none). */
const loggedIds = (logs: string[]): unknown[] =>
  logs.map((line) => JSON.parse(line).requestId).filter((id) => id !== undefined);

describe("X-Request-Id", () => {
  it("short ids of the safe alphabet are kept and echoed", async () => {
    for (const id of ["a", "req-123", "A_b=c-D", "x".repeat(64), crypto.randomUUID()]) {
      const { res, logs } = await send("/health", id);
      expect(res.headers.get("X-Request-Id")).toBe(id);
      expect(loggedIds(logs).every((logged) => logged === id)).toBe(true);
    }
  });

  it(`unsafe ids (seed ${SEED}) are replaced by a fresh one and appear in no answer or log`, async () => {
    for (const id of unsafeIds()) {
      const { res, body, logs } = await send("/health", id);
      const echoed = res.headers.get("X-Request-Id") ?? "";
      const why = JSON.stringify(id);
      expect(echoed, why).toMatch(/^[0-9a-f-]{36}$/);
      expect(
        loggedIds(logs).every((logged) => logged === echoed),
        why,
      ).toBe(true);
      for (const text of [body, ...logs]) expect(text.includes(id.trim()), why).toBe(false);
    }
  });

  it("a 500 quotes only a safe id, and its error log names the route template, not the path", async () => {
    const coupon = `cpn_${"Z".repeat(22)}.secret-event`;
    for (const id of ["ok-id-1", "<bad id>", "b".repeat(65)]) {
      const { res, body, logs } = await send(`/v1/test-failures/${coupon}`, id);
      expect(res.status).toBe(500);
      const echoed = res.headers.get("X-Request-Id") ?? "";
      expect(JSON.parse(body).detail).toBe(`Request ${echoed} failed.`);
      if (id === "ok-id-1") expect(echoed).toBe(id);
      else expect(body).not.toContain(id);
      const error = logs.map((l) => JSON.parse(l)).find((l) => l.level === "error" && l.error);
      expect(error).toMatchObject({ requestId: echoed, route: "/v1/test-failures/{couponId}" });
      for (const text of logs) expect(text).not.toContain(coupon);
    }
  });
});
