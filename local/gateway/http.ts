/**
 * HTTP plumbing shared by the gateway's APIs and its control server: reading a bounded body,
 * headers, credential checks, JSON answers. Error shapes, status codes and limits stay with each
 * API (they differ on purpose, as the services they stand in for do) and are passed in.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The (first) value of a request header (`name` in lower case). */
export function header(req: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Thrown by `readBody` (unless the caller names its own error) once the body is over its limit. */
export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/**
 * The whole request body. Past `limit` bytes it stops reading (the request is destroyed) and
 * throws `tooLarge()`, by default a `BodyTooLargeError`.
 */
export async function readBody(
  req: IncomingMessage,
  limit: number,
  tooLarge: () => Error = () => new BodyTooLargeError(limit),
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw tooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** `readBody`, parsed as JSON; a blank body is `{}`. Malformed JSON throws a `SyntaxError`. */
export async function readJson(
  req: IncomingMessage,
  limit: number,
  tooLarge?: () => Error,
): Promise<unknown> {
  const text = (await readBody(req, limit, tooLarge)).toString("utf8").trim();
  return text === "" ? {} : JSON.parse(text);
}

/** Answers `body` as JSON (`headOnly`: headers only, as for HEAD; `headers` are sent too). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  opts: { headOnly?: boolean; contentType?: string; headers?: Record<string, string> } = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...opts.headers,
    "content-type": opts.contentType ?? "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(opts.headOnly ? undefined : text);
}

/**
 * A request handler around an async one. Should it fail, `fail` answers (in the API's own error
 * shape), or, when the answer has already begun, the connection is destroyed.
 */
export function handleAsync(
  serve: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  fail: (res: ServerResponse, err: unknown) => void,
): RequestHandler {
  return (req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else fail(res, err);
    });
  };
}

/** String equality in constant time (whatever the lengths). */
export function safeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Whether the request carries `Authorization: Basic <base64 of username:password>`. `urlSafe`:
 * the base64url alphabet (`-`, `_`) is accepted in the header too.
 */
export function basicAuthorized(
  req: IncomingMessage,
  username: string,
  password: string,
  opts: { urlSafe?: boolean } = {},
): boolean {
  const auth = header(req, "authorization");
  if (auth === undefined) return false;
  const pattern = opts.urlSafe
    ? /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i
    : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i;
  const match = pattern.exec(auth);
  if (!match) return false;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  return safeEqual(decoded, `${username}:${password}`);
}

/** `Authorization: Bearer <token>`'s token, if there is one. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const auth = header(req, "authorization");
  return auth === undefined ? undefined : /^Bearer\s+(.+)$/i.exec(auth.trim())?.[1];
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
