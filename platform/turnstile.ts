import { z } from "zod";
import type { Config } from "./config.ts";

/** What the service needs of Turnstile, when it is on. */
export type TurnstileConfig = NonNullable<Config["turnstile"]>;

/** Turnstile tokens are at most this long (Cloudflare's documented limit). */
export const TURNSTILE_TOKEN_MAX_LENGTH = 2048;

/** The widget's action on the claim page (`public/claim/`); a token solved for another is refused. */
export const TURNSTILE_ACTION = "claim";

/**
 * Cloudflare's documented test secret that passes its dummy token: that answer carries a fixed
 * hostname and no action, so neither is checked with it (it can never guard production).
 */
const PASSING_TEST_SECRET = "1x0000000000000000000000000000000AA";

// Cloudflare documents more fields (challenge_ts, cdata, metadata); these decide.
const siteverifyAnswer = z.object({
  success: z.boolean(),
  "error-codes": z.array(z.string()).default([]),
  hostname: z.string().optional(),
  action: z.string().optional(),
});

export type Verdict =
  | { outcome: "passed" }
  /** Cloudflare says no: a bad or expired token, or one already spent (`replayed`). */
  | { outcome: "refused"; replayed: boolean; codes: string[] }
  /** No verdict (timeout, network, Cloudflare's own error): the caller fails closed. */
  | { outcome: "unreachable"; reason: string };

/**
 * Spends `token` at siteverify. One idempotency key per call: a retry of this call would not be
 * refused as a duplicate, but a second claim with the same token is.
 */
export async function siteverify(
  config: TurnstileConfig,
  token: string,
  remoteIp: string | undefined,
): Promise<Verdict> {
  const form = new URLSearchParams({
    secret: config.secret,
    response: token,
    idempotency_key: crypto.randomUUID(),
  });
  if (remoteIp) form.set("remoteip", remoteIp);
  let answer: z.output<typeof siteverifyAnswer>;
  try {
    const res = await fetch(config.verifyUrl, {
      method: "POST",
      body: form,
      signal: AbortSignal.timeout(config.timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return { outcome: "unreachable", reason: `siteverify answered ${res.status}` };
    }
    answer = siteverifyAnswer.parse(await res.json());
  } catch (err) {
    return { outcome: "unreachable", reason: err instanceof Error ? err.name : "error" };
  }
  if (answer.success) {
    // Cloudflare recommends both checks: a token solved on another site, or for another widget
    // of the same site key, is not a claim's.
    if (config.secret === PASSING_TEST_SECRET) return { outcome: "passed" };
    if (config.hostnames && !config.hostnames.includes((answer.hostname ?? "").toLowerCase())) {
      return { outcome: "refused", replayed: false, codes: ["hostname-mismatch"] };
    }
    if (answer.action !== TURNSTILE_ACTION) {
      return { outcome: "refused", replayed: false, codes: ["action-mismatch"] };
    }
    return { outcome: "passed" };
  }
  const codes = answer["error-codes"];
  if (codes.includes("internal-error")) return { outcome: "unreachable", reason: "internal-error" };
  return { outcome: "refused", replayed: codes.includes("timeout-or-duplicate"), codes };
}
