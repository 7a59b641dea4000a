/**
 * Coarse classes of dependency errors, for what the public sees (`GET /health`). Raw error text
 * can quote SQL, commands, user ids or hosts, so it stays on operator-only endpoints
 * (`GET /v1/events/{id}/stats`); the public gets one of these words instead.
 */
export const ERROR_CLASSES = [
  "timeout",
  "refused",
  "unreachable",
  "http-4xx",
  "http-5xx",
  "rejected",
  "conflict",
  "error",
] as const;

export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** Sink errors about one record's content (a SQL error, a record the broker refused). */
const REJECTED =
  /\b(?:errno \d+|sqlstate|vttablet|INVALID_RECORD|CORRUPT_MESSAGE|RECORD_LIST_TOO_LARGE|MESSAGE_TOO_LARGE)\b/i;
const TIMEOUT = /timed out|timeout|deadline exceeded|\baborted\b/i;
const REFUSED = /refused|ECONNREFUSED/i;
const HTTP_STATUS = /\b(?:HTTP|status)\D{0,3}([45])\d\d\b/i;
const HTTP_5XX = /Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout/i;
const UNREACHABLE =
  /network|connection (?:lost|reset|closed)|socket|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|fetch failed|unreachable|disconnected|\bDNS\b/i;

/**
 * The class of an error or of an error's text. The order matters: a refused record's text quotes
 * its statement, which may contain any word, so it is recognised first.
 */
export function errorClass(err: unknown): ErrorClass {
  const status = statusOf(err);
  const text = textOf(err);
  if (/^conflict:/i.test(text)) return "conflict";
  if (REJECTED.test(text)) return "rejected";
  if (TIMEOUT.test(text)) return "timeout";
  if (REFUSED.test(text)) return "refused";
  if (status !== null && status >= 400 && status < 600)
    return status >= 500 ? "http-5xx" : "http-4xx";
  const http = HTTP_STATUS.exec(text);
  if (http) return http[1] === "5" ? "http-5xx" : "http-4xx";
  if (HTTP_5XX.test(text)) return "http-5xx";
  if (UNREACHABLE.test(text)) return "unreachable";
  return "error";
}

/** An HTTP status carried by the error or its causes (the PlanetScale client's `status`). */
function statusOf(err: unknown): number | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const status = (e as Error & { status?: unknown }).status;
    if (typeof status === "number") return status;
  }
  return null;
}

/** Names and messages of the error and its causes. */
function textOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    parts.push(`${e.name}: ${e.message}`);
  }
  return parts.join(" <- ");
}
