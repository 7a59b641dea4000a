import { z } from "zod";
import { int, optional, secretUrl, section, withDefault } from "./fields.ts";

/**
 * Turnstile on claims: set both the secret and the site key to require a token
 * (`CF-Turnstile-Response`) on every claim, verified with siteverify; unset (the default),
 * claims need none.
 */
export const turnstile = section({
  settings: {
    TURNSTILE_SECRET: optional(z.string().min(1)),
    /** The widget's public site key, which the claim page renders. */
    TURNSTILE_SITE_KEY: optional(z.string().min(1).max(100)),
    /** Cloudflare's siteverify; the local cloud serves a stand-in for tests. */
    TURNSTILE_VERIFY_URL: withDefault(
      secretUrl("Turnstile's siteverify endpoint").default(
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
      ),
    ),
    /** How long a siteverify call may take before the claim is refused (fail closed). */
    TURNSTILE_TIMEOUT_MS: int(100, 30_000, 3_000),
    /**
     * Comma-separated hostnames the widget may have been solved on (siteverify's `hostname`);
     * unset, any. Set it in production: a token solved on another site is refused.
     */
    TURNSTILE_HOSTNAMES: optional(
      z.string().transform((text, ctx) => {
        const hostnames = text.split(",").map((h) => h.trim().toLowerCase());
        if (!hostnames.every((h) => /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(h))) {
          ctx.addIssue({ code: "custom", message: "must be hostnames, comma-separated" });
        }
        return hostnames;
      }),
    ),
  },
  together: [["TURNSTILE_SECRET", "TURNSTILE_SITE_KEY"]],
  read: (s) =>
    s.TURNSTILE_SECRET && s.TURNSTILE_SITE_KEY
      ? {
          secret: s.TURNSTILE_SECRET,
          siteKey: s.TURNSTILE_SITE_KEY,
          verifyUrl: s.TURNSTILE_VERIFY_URL,
          timeoutMs: s.TURNSTILE_TIMEOUT_MS,
          hostnames: s.TURNSTILE_HOSTNAMES ?? null,
        }
      : null,
});
