import { fromHex, hmacSha256, sha256, toHex } from "./sha256.ts";

/**
 * The waiting room's draw. A seed of 32 random bytes is fixed when the event is created; only
 * its SHA-256 (`seedCommitment`) is shown until `startsAt`, then the seed itself. A joiner's draw
 * value is HMAC-SHA256(key = the seed's bytes, message = the user id as UTF-8), in hex; everyone
 * who joined before `startsAt` is placed in ascending order of that value (place 1 first). Anyone
 * can recompute their own value from the published seed (docs/waiting-room.md), and nobody can
 * steer it: the seed is fixed before anyone joins, and a user cannot choose its id's value.
 */

export const SEED_BYTES = 32;
/** The edge finds a user's place by the first 8 bytes of its draw value (16 hex characters). */
export const PREFIX_CHARS = 16;

const utf8 = new TextEncoder();

export function newSeed(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(SEED_BYTES)));
}

/** SHA-256 of the seed's bytes, hex: what the event shows before `startsAt`. */
export function seedCommitment(seed: string): string {
  return toHex(sha256(fromHex(seed)));
}

export function drawValue(seed: string, userId: string): string {
  return toHex(hmacSha256(fromHex(seed), utf8.encode(userId)));
}

/** The early joiners in draw order (ascending draw value; equal values cannot happen in practice). */
export function drawOrder(seed: string, userIds: readonly string[]): string[] {
  return userIds
    .map((userId) => ({ userId, value: drawValue(seed, userId) }))
    .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : a.userId < b.userId ? -1 : 1))
    .map((joiner) => joiner.userId);
}

/** The early joiners' draw values cut to PREFIX_CHARS, in place order, end to end in one string. */
export function drawTable(seed: string, ordered: readonly string[]): string {
  return ordered.map((userId) => drawValue(seed, userId).slice(0, PREFIX_CHARS)).join("");
}

/**
 * A prefix's place in a draw table (1-based), by binary search; null when absent. `unique` is
 * false when another joiner shares the prefix (odds about n²/2^65): then only the object knows
 * which of them comes first.
 */
export function placeInTable(
  table: string,
  prefix: string,
): { place: number; unique: boolean } | null {
  const n = table.length / PREFIX_CHARS;
  const at = (i: number) => table.slice(i * PREFIX_CHARS, (i + 1) * PREFIX_CHARS);
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at(mid) < prefix) lo = mid + 1;
    else hi = mid;
  }
  if (lo >= n || at(lo) !== prefix) return null;
  return { place: lo + 1, unique: lo + 1 >= n || at(lo + 1) !== prefix };
}
