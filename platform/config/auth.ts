import { z } from "zod";
import { int, optional, section, unsetIfEmpty } from "./fields.ts";

/** Who may call: user tokens (HS256, the algorithm is pinned) and the operator's token. */
export const auth = section({
  settings: {
    /** HS256 key of user tokens. */
    JWT_SECRET: z.preprocess(
      unsetIfEmpty,
      z.string({ error: "is required" }).min(32, "must be at least 32 characters"),
    ),
    /** When set, a user token's `aud` must name it (a string or one of an array's). */
    JWT_AUDIENCE: optional(z.string().min(1).max(200)),
    /** When set, a user token's `iss` must be exactly this. */
    JWT_ISSUER: optional(z.string().min(1).max(200)),
    /** The longest a user token may still be valid for: an `exp` further ahead is refused. */
    JWT_MAX_LIFETIME_S: int(60, 31_536_000, 86_400),
    /** Seconds a token's `iat`/`nbf` may lie ahead of this clock (a client's fast clock). */
    JWT_CLOCK_LEEWAY_S: int(0, 300, 5),
    /** The operator's bearer token. */
    ADMIN_TOKEN: z.preprocess(
      unsetIfEmpty,
      z.string({ error: "is required" }).min(16, "must be at least 16 characters"),
    ),
  },
  read: (s) => ({
    jwtSecret: s.JWT_SECRET,
    adminToken: s.ADMIN_TOKEN,
    /** How user tokens are checked, beyond their signature. */
    jwt: {
      audience: s.JWT_AUDIENCE ?? null,
      issuer: s.JWT_ISSUER ?? null,
      maxLifetimeSeconds: s.JWT_MAX_LIFETIME_S,
      leewaySeconds: s.JWT_CLOCK_LEEWAY_S,
    },
  }),
});

export type AuthConfig = ReturnType<typeof auth.read>;
export type JwtRules = AuthConfig["jwt"];
