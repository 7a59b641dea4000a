/** A token verified earlier: who it names and the time claims to check again on every use. */
interface Verified {
  sub: string;
  exp: number;
  /** The latest of `nbf` and `iat`, or 0. */
  notBefore: number;
  /** What it was verified with: another secret or other rules must verify it again. */
  secret: string;
  rules: object;
}

/** Tokens kept per isolate; past it the oldest goes first (a Map keeps insertion order). */
const MAX_TOKENS = 10_000;

/**
 * Verified user tokens, so that a client repeating its token (polling its coupon, retrying a
 * claim) costs one lookup instead of an HMAC and a JSON parse. Only tokens whose signature and
 * claims passed are kept; expiry, the lifetime ceiling and the leeway are checked again on every
 * hit with the current time, so a cached token never outlives its `exp`. Bounded by design.
 */
export class TokenCache {
  readonly #tokens = new Map<string, Verified>();

  /** The token's `sub` when it was verified with this secret and these rules and is still valid. */
  get(
    token: string,
    secret: string,
    rules: { maxLifetimeSeconds: number; leewaySeconds: number },
    now: number,
  ): string | null {
    const hit = this.#tokens.get(token);
    if (!hit || hit.secret !== secret || hit.rules !== rules) return null;
    const valid =
      hit.exp > now &&
      hit.exp - now <= rules.maxLifetimeSeconds &&
      hit.notBefore <= now + rules.leewaySeconds;
    if (!valid) {
      this.#tokens.delete(token);
      return null;
    }
    return hit.sub;
  }

  set(token: string, verified: Verified): void {
    if (this.#tokens.size >= MAX_TOKENS) {
      const oldest = this.#tokens.keys().next().value;
      if (oldest !== undefined) this.#tokens.delete(oldest);
    }
    this.#tokens.set(token, verified);
  }

  get size(): number {
    return this.#tokens.size;
  }
}
