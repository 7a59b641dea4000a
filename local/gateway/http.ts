/**
 * Plumbing shared by the gateway's APIs and its control port: credential checks, a JSON answer at
 * the Node level (injected faults), listening and closing. Routing and validation are Hono and zod.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** String equality in constant time (whatever the lengths). */
export function safeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Whether `Authorization: Basic …` carries `username:password` (base64 or base64url). */
export function basicAuthorized(
  authorization: string | undefined,
  username: string,
  password: string,
): boolean {
  const encoded = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(authorization ?? "")?.[1];
  if (encoded === undefined) return false;
  return safeEqual(Buffer.from(encoded, "base64").toString("utf8"), `${username}:${password}`);
}

/**
 * Why a request to a gateway port is refused, or null. A browser's request (an `Origin` or
 * `Sec-Fetch-Site` header) never reaches a stand-in, and neither does one whose `Host` is not
 * this loopback port: a web page that rebinds its own name to 127.0.0.1 sends its name there.
 */
export function foreignRequest(
  header: (name: string) => string | undefined,
  port: number,
): string | null {
  if (header("origin") !== undefined || header("sec-fetch-site") !== undefined) {
    return "requests from a browser (Origin or Sec-Fetch-Site header) are refused";
  }
  const host = header("host")?.toLowerCase();
  if (host === undefined || !LOOPBACK_HOSTS.some((h) => host === `${h}:${port}`)) {
    return "the Host header must name this loopback port";
  }
  return null;
}

const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];

/** The token of `Authorization: Bearer <token>`, if there is one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? "")?.[1];
}

/** Closes `server`, its idle and active connections too; resolves once it is closed. */
export function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}

/** Listens on `host:port` (0: an ephemeral port); rejects if it cannot. */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen({ host, port }, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
