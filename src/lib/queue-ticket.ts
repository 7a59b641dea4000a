/**
 * Waiting-room tickets: `v1.<joinedAt, base 36>.<signature>`, the signature an HMAC-SHA256 over
 * the event id, the user id and the join time, with a key derived from the service's token
 * secret (never the secret itself). A ticket is useless to another user or another event: the
 * signature is checked against the caller's own `sub` and the event of the path, so one cannot
 * tell a forged ticket from another user's, and neither needs the event's object.
 */

const LABEL = "coupon-edge waiting-room ticket v1";
const TICKET = /^v1\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

/** Derived keys by secret (one or two per isolate), kept as keys, never as promises. */
const keys = new Map<string, CryptoKey>();

async function ticketKey(secret: string): Promise<CryptoKey> {
  const known = keys.get(secret);
  if (known) return known;
  const enc = new TextEncoder();
  const master = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  // A key of its own: a ticket's signature can never be replayed as a token's, or the reverse.
  const derived = await crypto.subtle.sign("HMAC", master, enc.encode(LABEL));
  const key = await crypto.subtle.importKey(
    "raw",
    derived,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  if (keys.size > 4) keys.clear();
  keys.set(secret, key);
  return key;
}

const message = (eventId: string, userId: string, joinedAt: number) =>
  new TextEncoder().encode(`${eventId}\n${userId}\n${joinedAt}`);

function base64url(bytes: ArrayBuffer): string {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array {
  const raw = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

export async function signTicket(
  secret: string,
  eventId: string,
  userId: string,
  joinedAt: number,
): Promise<string> {
  const key = await ticketKey(secret);
  const signature = await crypto.subtle.sign("HMAC", key, message(eventId, userId, joinedAt));
  return `v1.${joinedAt.toString(36)}.${base64url(signature)}`;
}

/** The ticket's join time when it is this user's ticket for this event, else null. */
export async function verifyTicket(
  secret: string,
  eventId: string,
  userId: string,
  ticket: string,
): Promise<{ joinedAt: number } | null> {
  const match = TICKET.exec(ticket);
  if (!match?.[1] || !match[2]) return null;
  const joinedAt = Number.parseInt(match[1], 36);
  if (!Number.isSafeInteger(joinedAt)) return null;
  const key = await ticketKey(secret);
  const ok = await crypto.subtle.verify(
    "HMAC",
    key,
    fromBase64url(match[2]),
    message(eventId, userId, joinedAt),
  );
  return ok ? { joinedAt } : null;
}
