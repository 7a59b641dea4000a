/**
 * The identifiers every layer checks, each rule written once: the edge's schemas, the objects'
 * RPC guards (RPC is a boundary too) and MySQL's column widths follow these.
 */

/** Event ids: URL-safe, so they route, key Redis and end coupon ids unescaped. */
export const EVENT_ID_CHARS = "[A-Za-z0-9_-]{1,64}";
export const EVENT_ID_PATTERN = new RegExp(`^${EVENT_ID_CHARS}$`);
export const EVENT_ID_RULE = `must match ${EVENT_ID_CHARS}`;

/**
 * Ids of throwaway events made by `npm run smoke` (scripts/smoke.ts) after a deploy: the metrics
 * and the dashboard's list of events leave them out. Reserved: do not name a real event so.
 */
export const SMOKE_EVENT_PREFIX = "smoke-";
export const isSmokeEvent = (eventId: string): boolean => eventId.startsWith(SMOKE_EVENT_PREFIX);

/** A user id is a token's `sub`, compared byte for byte (MySQL: varbinary(512), 4 bytes each). */
export const USER_ID_MAX_LENGTH = 128;
const CONTROL = /\p{Cc}/u;

/**
 * Why `id` cannot be a user id, or null when it can. A lone surrogate has no UTF-8 form (it would
 * be stored as U+FFFD and merge with others); control characters have no place in an id that ends
 * up in logs, keys and rows.
 */
export function userIdFault(id: unknown): string | null {
  if (typeof id !== "string" || id.length < 1 || id.length > USER_ID_MAX_LENGTH) {
    return `must be a string of 1..${USER_ID_MAX_LENGTH} characters`;
  }
  if (!id.isWellFormed() || CONTROL.test(id)) {
    return "must be well-formed Unicode without control characters";
  }
  return null;
}

/**
 * Every string the service stores or compares (order ids, idempotency keys, event names) must
 * have a UTF-8 form: a lone surrogate would be stored as U+FFFD and then no longer match itself
 * (a retried redeem 422, a restore 409 for ever). Checked at the edge and again in the object.
 */
export const WELL_FORMED_RULE = "must be well-formed Unicode (no lone surrogate)";
export const isWellFormed = (text: string): boolean => text.isWellFormed();

/** The shop's order id, as redeem, hold and restore name it. */
export const ORDER_ID_MAX_LENGTH = 128;
/** `Idempotency-Key` without its quotes. */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
/** A redeem's key is remembered this long (24 h, as payment APIs do); then it is a new key. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;
/** At most this many keys are remembered per coupon (the newest): fresh keys never grow storage. */
export const IDEMPOTENCY_KEYS_PER_COUPON = 32;
/** The longest checkout hold: a payment that takes longer than an hour has failed. */
export const HOLD_TTL_MAX_SECONDS = 3600;
