import { describe, expect, it } from "vitest";
import { TokenCache } from "../../src/lib/token-cache.ts";

const RULES = { maxLifetimeSeconds: 3_600, leewaySeconds: 5 };
const entry = (exp: number, notBefore = 0) => ({
  sub: "alice",
  exp,
  notBefore,
  secret: "s",
  rules: RULES,
});

describe("the verified-token cache", () => {
  it("answers a token verified with the same secret and rules while it is valid", () => {
    const cache = new TokenCache();
    cache.set("t", entry(1_100));
    expect(cache.get("t", "s", RULES, 1_000)).toBe("alice");
    expect(cache.get("t", "other secret", RULES, 1_000)).toBeNull();
    expect(cache.get("t", "s", { ...RULES }, 1_000)).toBeNull();
    expect(cache.get("unknown", "s", RULES, 1_000)).toBeNull();
  });

  it("checks the time claims again on every hit: expired, too long-lived, not valid yet", () => {
    const cache = new TokenCache();
    cache.set("t", entry(1_100));
    expect(cache.get("t", "s", RULES, 1_100)).toBeNull();
    // Dropped once found expired.
    expect(cache.get("t", "s", RULES, 1_000)).toBeNull();
    cache.set("far", entry(10_000));
    expect(cache.get("far", "s", RULES, 1_000)).toBeNull();
    cache.set("early", entry(1_100, 1_010));
    // nbf 1,010 with 5 s of leeway: valid from 1,005.
    expect(cache.get("early", "s", RULES, 1_005)).toBe("alice");
    expect(cache.get("early", "s", RULES, 1_004)).toBeNull();
  });

  it("keeps at most 10,000 tokens, dropping the oldest first", () => {
    const cache = new TokenCache();
    for (let i = 0; i < 10_050; i++) cache.set(`t${i}`, entry(2_000));
    expect(cache.size).toBe(10_000);
    expect(cache.get("t0", "s", RULES, 1_000)).toBeNull();
    expect(cache.get("t10049", "s", RULES, 1_000)).toBe("alice");
  });
});
