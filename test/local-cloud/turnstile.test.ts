/** The siteverify stand-in answers as Cloudflare documents siteverify (shape, codes, single use). */
import { describe, expect, it } from "vitest";
import {
  createTurnstileGateway,
  DUMMY_TOKEN,
  TEST_SECRETS,
} from "../../local/gateway/turnstile.ts";

const SECRET = "local-secret";

function standIn() {
  let now = Date.parse("2026-09-12T14:00:00Z");
  const gw = createTurnstileGateway({ secret: SECRET, now: () => now });
  const verify = async (fields: Record<string, string>, json = false) => {
    const res = await gw.fetch(
      new Request("http://turnstile.test/turnstile/v0/siteverify", {
        method: "POST",
        ...(json
          ? { body: JSON.stringify(fields), headers: { "Content-Type": "application/json" } }
          : { body: new URLSearchParams(fields) }),
      }),
    );
    return (await res.json()) as { success: boolean; "error-codes": string[] };
  };
  const mint = async () => {
    const res = await gw.fetch(new Request("http://turnstile.test/tokens", { method: "POST" }));
    return ((await res.json()) as { token: string }).token;
  };
  return { verify, mint, advance: (ms: number) => (now += ms) };
}

describe("the Turnstile siteverify stand-in", () => {
  it("passes a minted token once, form or JSON; a second check is timeout-or-duplicate", async () => {
    const { verify, mint } = standIn();
    const token = await mint();
    expect(await verify({ secret: SECRET, response: token }, true)).toMatchObject({
      success: true,
      "error-codes": [],
    });
    expect(await verify({ secret: SECRET, response: token })).toEqual({
      success: false,
      "error-codes": ["timeout-or-duplicate"],
    });
  });

  it("answers a retry with the same idempotency_key as the first check", async () => {
    const { verify, mint } = standIn();
    const token = await mint();
    const key = crypto.randomUUID();
    expect((await verify({ secret: SECRET, response: token, idempotency_key: key })).success).toBe(
      true,
    );
    expect((await verify({ secret: SECRET, response: token, idempotency_key: key })).success).toBe(
      true,
    );
    const other = await verify({ secret: SECRET, response: token, idempotency_key: "another" });
    expect(other["error-codes"]).toEqual(["timeout-or-duplicate"]);
  });

  it("refuses tokens older than 300 s, unknown tokens, wrong secrets and missing fields", async () => {
    const { verify, mint, advance } = standIn();
    const old = await mint();
    advance(300_001);
    expect((await verify({ secret: SECRET, response: old }))["error-codes"]).toEqual([
      "timeout-or-duplicate",
    ]);
    expect((await verify({ secret: SECRET, response: "forged" }))["error-codes"]).toEqual([
      "invalid-input-response",
    ]);
    expect((await verify({ secret: "wrong", response: await mint() }))["error-codes"]).toEqual([
      "invalid-input-secret",
    ]);
    expect((await verify({ response: "x" }))["error-codes"]).toEqual(["missing-input-secret"]);
    expect((await verify({ secret: SECRET }))["error-codes"]).toEqual(["missing-input-response"]);
  });

  it("behaves as Cloudflare's test secrets do", async () => {
    const { verify, mint } = standIn();
    for (let i = 0; i < 2; i++) {
      expect((await verify({ secret: TEST_SECRETS.pass, response: DUMMY_TOKEN })).success).toBe(
        true,
      );
    }
    expect((await verify({ secret: TEST_SECRETS.pass, response: await mint() })).success).toBe(
      false,
    );
    expect(
      (await verify({ secret: TEST_SECRETS.fail, response: DUMMY_TOKEN }))["error-codes"],
    ).toEqual(["invalid-input-response"]);
    expect(
      (await verify({ secret: TEST_SECRETS.spent, response: DUMMY_TOKEN }))["error-codes"],
    ).toEqual(["timeout-or-duplicate"]);
  });
});
