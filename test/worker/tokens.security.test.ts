/**
 * User tokens: the algorithm stays pinned; `iss`/`aud` are checked when configured; `iat`/`nbf`
 * may lie a few seconds ahead (JWT_CLOCK_LEEWAY_S) and no more; `exp` is required, in the future
 * and at most JWT_MAX_LIFETIME_S ahead. Exact edges are checked on the verifier with a fixed
 * clock, and end to end through the app, where every refusal leaves the event untouched.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.ts";
import { type TokenRules, verifyUserToken } from "../../src/middleware/auth.ts";
import { stats } from "./cloud.ts";
import { createEvent, JWT_SECRET, ORIGIN } from "./helpers.ts";

const NOW = 1_900_000_000;
const RULES: TokenRules = {
  audience: null,
  issuer: null,
  maxLifetimeSeconds: 86_400,
  leewaySeconds: 5,
};

const token = (claims: Record<string, unknown>, alg: "HS256" | "HS512" = "HS256") =>
  sign({ sub: "tok-user", ...claims }, JWT_SECRET, alg);

async function verdict(claims: Record<string, unknown>, rules = RULES, alg?: "HS512") {
  try {
    return await verifyUserToken(await token(claims, alg), JWT_SECRET, rules, NOW);
  } catch (err) {
    return (err as { status?: number }).status === 401 ? 401 : err;
  }
}

describe("time claims at the edges (fixed clock)", () => {
  for (const leeway of [0, 5, 30]) {
    const rules = { ...RULES, leewaySeconds: leeway };
    it(`leeway ${leeway} s: iat and nbf up to ${leeway} s ahead pass, one more is refused`, async () => {
      for (let ahead = -3; ahead <= leeway + 3; ahead++) {
        const expected = ahead <= leeway ? "tok-user" : 401;
        for (const claim of ["iat", "nbf"]) {
          const claims = { exp: NOW + 600, [claim]: NOW + ahead };
          expect(await verdict(claims, rules), `${claim} +${ahead}`).toBe(expected);
        }
      }
    });
  }

  it("exp: required, a finite number, after now, and at most the maximum lifetime ahead", async () => {
    for (const max of [60, 3600, 86_400]) {
      const rules = { ...RULES, maxLifetimeSeconds: max };
      for (const d of [-86_400, -1, 0, 1, max - 1, max, max + 1, max * 10, 10 ** 12]) {
        const expected = d > 0 && d <= max ? "tok-user" : 401;
        expect(await verdict({ exp: NOW + d }, rules), `max ${max} exp +${d}`).toBe(expected);
      }
    }
    for (const exp of [undefined, null, "1900000600", [NOW + 600], { at: NOW + 600 }, 1e300]) {
      expect(await verdict({ exp }), `exp ${JSON.stringify(exp)}`).toBe(401);
    }
    for (const iat of ["0", null, [0], 1e300]) {
      expect(await verdict({ exp: NOW + 600, iat }), `iat ${JSON.stringify(iat)}`).toBe(401);
    }
  });

  it("iss and aud: ignored when not configured, exact when configured", async () => {
    const rules = { ...RULES, issuer: "https://id.shop.example", audience: "coupons" };
    const base = { exp: NOW + 600 };
    const cases: [Record<string, unknown>, string | 401][] = [
      [{ iss: "https://id.shop.example", aud: "coupons" }, "tok-user"],
      [{ iss: "https://id.shop.example", aud: ["other", "coupons"] }, "tok-user"],
      [{ aud: "coupons" }, 401],
      [{ iss: "https://id.shop.example" }, 401],
      [{ iss: "https://id.shop.example/", aud: "coupons" }, 401],
      [{ iss: "https://evil.example", aud: "coupons" }, 401],
      [{ iss: "https://id.shop.example", aud: "Coupons" }, 401],
      [{ iss: "https://id.shop.example", aud: ["other"] }, 401],
      [{ iss: "https://id.shop.example", aud: [] }, 401],
    ];
    for (const [claims, expected] of cases) {
      expect(await verdict({ ...base, ...claims }, rules), JSON.stringify(claims)).toBe(expected);
      // Unconfigured, the same claims are not looked at.
      expect(await verdict({ ...base, ...claims }), JSON.stringify(claims)).toBe("tok-user");
    }
    // The algorithm stays pinned whatever the claims.
    const right = { ...base, iss: "https://id.shop.example", aud: "coupons" };
    expect(await verdict(right, rules, "HS512")).toBe(401);
  });
});

describe("end to end (configured bindings)", () => {
  const app = buildApp();
  const bindings = {
    ...env,
    JWT_ISSUER: "https://id.shop.example",
    JWT_AUDIENCE: "coupons",
    JWT_MAX_LIFETIME_S: "3600",
    JWT_CLOCK_LEEWAY_S: "10",
  };
  async function claimWith(eventId: string, claims: Record<string, unknown>) {
    const now = Math.floor(Date.now() / 1000);
    const jwt = await sign(
      {
        sub: `e2e-${crypto.randomUUID()}`,
        iss: "https://id.shop.example",
        aud: "coupons",
        iat: now,
        exp: now + 600,
        ...claims,
      },
      JWT_SECRET,
      "HS256",
    );
    const ctx = createExecutionContext();
    const res = await app.request(
      `${ORIGIN}/v1/events/${eventId}/claims`,
      {
        method: "POST",
        headers: { Authorization: `Bearer ${jwt}`, "CF-Connecting-IP": "198.51.100.28" },
      },
      bindings,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res;
  }

  it("a client clock 3 s fast is served; tokens from too far ahead, too long-lived or for another service are 401 and change nothing", async () => {
    const event = await createEvent({ totalStock: 10 });
    const now = Math.floor(Date.now() / 1000);
    const refused: Record<string, unknown>[] = [
      { iat: now + 120 },
      { nbf: now + 120 },
      { exp: now + 7200 },
      { exp: now + 10 ** 9 },
      { iss: "https://evil.example" },
      { iss: undefined },
      { aud: "billing" },
      { aud: undefined },
    ];
    const before = await stats(event.id);
    for (const claims of refused) {
      const res = await claimWith(event.id, claims);
      expect(res.status, JSON.stringify(claims)).toBe(401);
      expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    }
    expect((await stats(event.id)).claims).toEqual(before.claims);

    const fast = await claimWith(event.id, { iat: now + 3, nbf: now + 3 });
    expect(fast.status).toBe(201);
    expect((await stats(event.id)).claims.issued).toBe(1);
  });
});
