import { createMiddleware } from "hono/factory";
import { verify } from "hono/jwt";
import type { JWTPayload } from "hono/utils/jwt/types";
import { userIdFault } from "../../domain/identifiers.ts";
import type { Config } from "../../platform/config.ts";
import type { HonoEnv } from "../hono-env.ts";
import { TokenCache } from "../lib/token-cache.ts";
import { ProblemError } from "../problems.ts";

/**
 * The only algorithm accepted for user tokens. It is configuration, never read from the token's
 * header: a token claiming `none`, RS256 or anything else fails before its signature is looked at.
 */
const USER_TOKEN_ALG = "HS256";
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

const challenge = { "WWW-Authenticate": 'Bearer error="invalid_token"' };

function unauthorized(detail: string): ProblemError {
  return new ProblemError("unauthorized", { detail, headers: challenge });
}

/** The credentials of `Authorization: Bearer <credentials>`; any other scheme is refused. */
function bearer(header: string | undefined): string {
  if (!header) throw unauthorized("Missing Authorization header.");
  const match = BEARER.exec(header);
  if (!match?.[1]) throw unauthorized("Authorization must be `Bearer <token>`.");
  return match[1];
}

// Imported once per isolate and secret, not per request. The key is kept, never its promise:
// a request must not await what another request started (the first few may import it twice).
const keys = new Map<string, CryptoKey>();
async function hmacKey(secret: string): Promise<CryptoKey> {
  const known = keys.get(secret);
  if (known) return known;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  keys.set(secret, key);
  return key;
}

/** Tokens this isolate verified, checked again for time on every use (src/lib/token-cache.ts). */
const verified = new TokenCache();

/** How user tokens are checked (`platform/config.ts`). */
export type TokenRules = Config["auth"]["jwt"];

/**
 * Verifies a user token and returns its `sub`; throws `unauthorized` otherwise. The signature,
 * `iss` and `aud` (when configured) are hono's; the time claims are checked here, after the
 * signature, with a small leeway for `iat`/`nbf` and a ceiling on how far ahead `exp` may be.
 */
export async function verifyUserToken(
  token: string,
  secret: string,
  rules: TokenRules,
  now = Math.floor(Date.now() / 1000),
): Promise<string> {
  const known = verified.get(token, secret, rules, now);
  if (known !== null) return known;
  let payload: JWTPayload;
  try {
    payload = await verify(token, await hmacKey(secret), {
      alg: USER_TOKEN_ALG,
      exp: false,
      nbf: false,
      iat: false,
      ...(rules.issuer === null ? {} : { iss: rules.issuer }),
      ...(rules.audience === null ? {} : { aud: rules.audience }),
    });
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    throw unauthorized(
      /Issuer|Aud/.test(name)
        ? "The token is not for this service."
        : "The token is malformed or badly signed.",
    );
  }
  const { exp, nbf, iat } = payload;
  // The contract requires `exp`.
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    throw unauthorized("The token has no valid `exp` claim.");
  }
  if (exp <= now) throw unauthorized("The token has expired.");
  if (exp - now > rules.maxLifetimeSeconds) {
    throw unauthorized("The token's `exp` is further ahead than this service accepts.");
  }
  for (const claim of [nbf, iat]) {
    if (claim === undefined) continue;
    if (typeof claim !== "number" || !Number.isFinite(claim) || claim > now + rules.leewaySeconds) {
      throw unauthorized("The token is not valid yet.");
    }
  }
  const sub = payload.sub;
  const fault = userIdFault(sub);
  if (fault !== null) throw unauthorized(`The token's \`sub\` ${fault}.`);
  const notBefore = Math.max(typeof nbf === "number" ? nbf : 0, typeof iat === "number" ? iat : 0);
  verified.set(token, { sub: sub as string, exp, notBefore, secret, rules });
  return sub as string;
}

/** Requires a valid user JWT; puts its `sub` in `c.var.userId`. */
export const requireUser = createMiddleware<HonoEnv>(async (c, next) => {
  const token = bearer(c.req.header("Authorization"));
  const { jwtSecret, jwt } = c.var.services.config.auth;
  c.set("userId", await verifyUserToken(token, jwtSecret, jwt));
  await next();
});

/** Requires the operator token; a valid user token gets 403, anything else 401. */
export const requireOperator = createMiddleware<HonoEnv>(async (c, next) => {
  const token = bearer(c.req.header("Authorization"));
  const { adminToken, jwtSecret, jwt } = c.var.services.config.auth;
  if (await sameSecret(token, adminToken)) return next();
  await verifyUserToken(token, jwtSecret, jwt);
  throw new ProblemError("forbidden", { detail: "This endpoint is for operators." });
});

/** Constant-time comparison: both sides are hashed first so lengths leak nothing either. */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}
