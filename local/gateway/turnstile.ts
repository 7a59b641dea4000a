/**
 * Stand-in for Turnstile's siteverify (https://challenges.cloudflare.com/turnstile/v0/siteverify),
 * as Cloudflare documents it: form or JSON `{ secret, response, remoteip?, idempotency_key? }`,
 * always a JSON answer `{ success, error-codes, ... }`.
 *
 *   POST /turnstile/v0/siteverify  the check
 *   POST /tokens                   a fresh token for `secret` (what the widget hands a page):
 *                                  single use, valid 300 s, like a real one; optional JSON
 *                                  `{ hostname, action }` says where it was solved
 *
 * Cloudflare's test secrets behave as documented: `1x…AA` passes the dummy token
 * `XXXX.DUMMY.TOKEN.XXXX` (every time), `2x…AA` always fails, `3x…AA` always answers "already
 * spent". Minted tokens pass only with the secret configured here, once; a retry of the same
 * check (same `idempotency_key`) gets the same answer, as at Cloudflare.
 */
import { Hono } from "hono";

export const TEST_SECRETS = {
  pass: "1x0000000000000000000000000000000AA",
  fail: "2x0000000000000000000000000000000AA",
  spent: "3x0000000000000000000000000000000AA",
} as const;
export const DUMMY_TOKEN = "XXXX.DUMMY.TOKEN.XXXX";
const TOKEN_TTL_MS = 300_000;
const MAX_TOKEN = 2048;

interface Minted {
  issuedAt: number;
  /** Where and for which widget action it was solved, as siteverify reports them. */
  hostname: string;
  action: string;
  /** The idempotency key of the check that spent it; null while unspent. */
  spentBy: string | null;
}

export function createTurnstileGateway(opts: { secret: string; now?: () => number }): {
  fetch: Hono["fetch"];
  close(): Promise<void>;
} {
  const now = opts.now ?? Date.now;
  const minted = new Map<string, Minted>();
  const answer = (
    success: boolean,
    codes: string[] = [],
    solved = { hostname: "localhost", action: "" },
  ) => ({
    success,
    "error-codes": codes,
    ...(success ? { challenge_ts: new Date(now()).toISOString(), ...solved } : {}),
  });

  const check = (secret: string, token: string, key: string | null) => {
    if (!secret) return answer(false, ["missing-input-secret"]);
    if (!token) return answer(false, ["missing-input-response"]);
    if (token.length > MAX_TOKEN) return answer(false, ["invalid-input-response"]);
    if (secret === TEST_SECRETS.pass) {
      return token === DUMMY_TOKEN ? answer(true) : answer(false, ["invalid-input-secret"]);
    }
    if (secret === TEST_SECRETS.fail) return answer(false, ["invalid-input-response"]);
    if (secret === TEST_SECRETS.spent) return answer(false, ["timeout-or-duplicate"]);
    if (secret !== opts.secret) return answer(false, ["invalid-input-secret"]);
    const entry = minted.get(token);
    if (!entry) return answer(false, ["invalid-input-response"]);
    if (now() - entry.issuedAt > TOKEN_TTL_MS) return answer(false, ["timeout-or-duplicate"]);
    if (entry.spentBy !== null) {
      return key !== null && key === entry.spentBy
        ? answer(true, [], entry)
        : answer(false, ["timeout-or-duplicate"]);
    }
    entry.spentBy = key ?? crypto.randomUUID();
    return answer(true, [], entry);
  };

  const app = new Hono()
    .post("/turnstile/v0/siteverify", async (c) => {
      const type = c.req.header("Content-Type") ?? "";
      const fields: Record<string, unknown> = type.includes("application/json")
        ? await c.req.json().catch(() => ({}))
        : await c.req.parseBody().catch(() => ({}));
      const text = (name: string) => (typeof fields[name] === "string" ? fields[name] : "");
      const key = text("idempotency_key") || null;
      return c.json(check(text("secret"), text("response"), key));
    })
    .post("/tokens", async (c) => {
      // Optional JSON `{ hostname, action }`: where the widget was solved (a page on localhost, for
      // the claim page's action, unless told otherwise).
      const asked: Record<string, unknown> = await c.req.json().catch(() => ({}));
      const text = (value: unknown, fallback: string) =>
        typeof value === "string" ? value : fallback;
      const token = `local.${crypto.randomUUID()}.${crypto.randomUUID()}`;
      minted.set(token, {
        issuedAt: now(),
        spentBy: null,
        hostname: text(asked.hostname, "localhost"),
        action: text(asked.action, "claim"),
      });
      // Expired tokens are only kept long enough to be refused as such.
      for (const [t, m] of minted) if (now() - m.issuedAt > 2 * TOKEN_TTL_MS) minted.delete(t);
      return c.json({ token });
    });
  app.notFound((c) => c.json({ success: false, "error-codes": ["bad-request"] }, 404));
  return { fetch: app.fetch, close: async () => {} };
}
