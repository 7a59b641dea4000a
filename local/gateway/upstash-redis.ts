/**
 * Stand-in for the Upstash Redis REST API, backed by a real redis-server: exact enough that the
 * official `@upstash/redis` client (and `@upstash/ratelimit` on top of it) works unmodified.
 *
 * Requests (see https://upstash.com/docs/redis/features/restapi):
 *   POST /                 body `["SET","k","v","EX",100]`           → `{ "result": "OK" }`
 *   GET|POST /set/k/v?EX=100 (path form; a POST body is appended as the last path argument,
 *                          query parameters after it as `NAME value`)
 *   POST /pipeline         body `[["SET","k","v"],["INCR","k"]]`    → `[{result}|{error}, …]`
 *   POST /multi-exec       same body, run as MULTI/EXEC on a dedicated connection
 *                          → `[{result}|{error}, …]`, or one `{error}` if the transaction is
 *                          discarded (a command failed to queue)
 * Auth: `Authorization: Bearer <token>` or `?_token=<token>`; otherwise 401
 * `{"error":"WRONGPASS invalid or missing auth token"}`. A failing command answers 400 `{error}`
 * with Redis' own message; an unsupported HTTP method 405.
 *
 * `Upstash-Encoding: base64` (sent by @upstash/redis by default): every string in the result is
 * base64 encoded, except a top-level "OK". Numbers, nulls and arrays keep their JSON type.
 *
 * Deliberate differences from the hosted service:
 * - Commands that change connection state (AUTH, HELLO, SELECT, MULTI/EXEC/DISCARD/WATCH as
 *   single commands, SUBSCRIBE family, MONITOR, QUIT, RESET, CLIENT REPLY/TRACKING/…) are refused
 *   with 400: the REST API is stateless and commands share pooled connections.
 * - Blocking commands (BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD … BLOCK, WAIT, …) are let through on a
 *   dedicated connection of their own (returned to the pool afterwards; closed if the HTTP client
 *   goes away first), so they never stall other requests.
 * - Lua shebang flags that only Upstash knows (`#!lua flags=allow-key-locking`, used by
 *   @upstash/ratelimit) are removed before the script reaches redis-server, which rejects unknown
 *   flags. EVALSHA / SCRIPT LOAD / SCRIPT EXISTS keep answering with the SHA1 of the script the
 *   client sent, so the client's EVALSHA-then-EVAL fallback behaves as against Upstash.
 * - `Upstash-Response-Format: resp2`, `/monitor` and `/subscribe` (server-sent events) are not
 *   provided (400). Read-only tokens, ACL REST tokens and `upstash-sync-token` are not emulated.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Redis } from "ioredis";
import type { Faults } from "./faults.ts";
import {
  bearerToken,
  errorMessage,
  handleAsync,
  header,
  type RequestHandler,
  readBody,
  safeEqual,
  sendJson,
} from "./http.ts";

/** A RESP value as ioredis' `callBuffer` yields it. */
type Resp = Buffer | string | number | bigint | null | Error | Resp[];
type Json = string | number | null | Json[];
type Arg = string | Buffer;
/** A command's outcome, the RESP value still raw (JSON-encoded when the answer is sent). */
type Outcome = { result: Resp } | { error: string };

class RestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const IDLE_DEDICATED = 4;

/** Connection-state commands: meaningless (or harmful) over a stateless API on shared connections. */
const REFUSED = new Set([
  "AUTH",
  "HELLO",
  "SELECT",
  "QUIT",
  "RESET",
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
  "MONITOR",
  "SYNC",
  "PSYNC",
  "REPLCONF",
]);
const REFUSED_CLIENT_SUBCOMMANDS = new Set([
  "REPLY",
  "TRACKING",
  "CACHING",
  "SETNAME",
  "SETINFO",
  "NO-EVICT",
  "NO-TOUCH",
  "PAUSE",
  "UNPAUSE",
  "KILL",
]);
const BLOCKING = new Set([
  "BLPOP",
  "BRPOP",
  "BRPOPLPUSH",
  "BLMOVE",
  "BLMPOP",
  "BZPOPMIN",
  "BZPOPMAX",
  "BZMPOP",
  "WAIT",
  "WAITAOF",
]);
/** Shebang flags redis-server 7 accepts; any other flag (Upstash's own) is dropped. */
const REDIS_SCRIPT_FLAGS = new Set([
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
]);

export function createUpstashRedisGateway(opts: {
  redisUrl: string;
  token: string;
  faults: Faults;
}): { handle: RequestHandler; close(): Promise<void> } {
  const pool = new ConnectionPool(opts.redisUrl);
  const scripts = new ScriptShas();
  const handle = handleAsync(
    (req, res) => serve(req, res, opts.token, pool, scripts),
    (res, err) => {
      if (err instanceof RestError) sendJson(res, err.status, { error: err.message });
      else sendJson(res, 500, { error: `ERR ${errorMessage(err)}` });
    },
  );
  return { handle, close: () => pool.close() };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  pool: ConnectionPool,
  scripts: ScriptShas,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://upstash.local");
  const method = req.method ?? "GET";
  if (!authorized(req, url, token)) {
    req.resume();
    sendJson(res, 401, { error: "WRONGPASS invalid or missing auth token" });
    return;
  }
  if (!["GET", "HEAD", "POST", "PUT"].includes(method)) {
    req.resume();
    sendJson(res, 405, {
      error: `ERR method ${method} is not allowed; use GET, HEAD, POST or PUT`,
    });
    return;
  }
  const format = header(req, "upstash-response-format");
  if (format !== undefined && format.toLowerCase() !== "json") {
    req.resume();
    sendJson(res, 400, {
      error: `ERR Upstash-Response-Format '${format}' is not supported by the local gateway (json only)`,
    });
    return;
  }
  const base64 = header(req, "upstash-encoding")?.toLowerCase() === "base64";
  const body = await readBody(
    req,
    MAX_BODY_BYTES,
    () => new RestError(400, `ERR max request size exceeded (${MAX_BODY_BYTES} bytes)`),
  );
  let segments: string[];
  try {
    segments = url.pathname
      .split("/")
      .filter((s) => s.length > 0)
      .map((s) => decodeURIComponent(s));
  } catch {
    throw new RestError(400, "ERR malformed percent-encoding in the request path");
  }
  const clientGone = gone(res);

  if (segments.length === 1 && (segments[0] === "pipeline" || segments[0] === "multi-exec")) {
    if (method !== "POST" && method !== "PUT") {
      throw new RestError(405, `ERR /${segments[0]} expects POST`);
    }
    const commands = parseCommandList(body, segments[0]);
    const outcomes =
      segments[0] === "pipeline"
        ? await runPipeline(pool, scripts, commands, clientGone)
        : await runTransaction(pool, scripts, commands);
    sendJson(
      res,
      200,
      outcomes.map((o) => encodeOutcome(o, base64)),
    );
    return;
  }
  if (segments[0] === "monitor" || segments[0] === "subscribe" || segments[0] === "psubscribe") {
    throw new RestError(
      400,
      `ERR /${segments[0]} (server-sent events) is not supported by the local gateway`,
    );
  }

  let command: Arg[];
  if (segments.length === 0) {
    if (body.length === 0) throw new RestError(400, "ERR empty command");
    command = parseCommand(parseJson(body), "request body");
  } else {
    command = [...segments];
    if (body.length > 0 && (method === "POST" || method === "PUT")) command.push(body);
    for (const [name, value] of url.searchParams) {
      if (name === "_token") continue;
      command.push(name);
      if (value !== "") command.push(value);
    }
  }
  const outcome = await runSingle(pool, scripts, command, clientGone);
  sendJson(res, "error" in outcome ? 400 : 200, encodeOutcome(outcome, base64), {
    headOnly: method === "HEAD",
  });
}

// ─── requests ──────────────────────────────────────────────────────────────────────────────────

function authorized(req: IncomingMessage, url: URL, token: string): boolean {
  const bearer = bearerToken(req);
  if (bearer !== undefined && safeEqual(bearer, token)) return true;
  const query = url.searchParams.get("_token");
  return query !== null && safeEqual(query, token);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new RestError(400, `ERR failed to parse request body as JSON: ${errorMessage(err)}`);
  }
}

function parseCommand(value: unknown, where: string): Arg[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new RestError(400, `ERR ${where} must be a non-empty JSON array: [COMMAND, ARG1, …]`);
  }
  return value.map((arg, i) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number" || typeof arg === "boolean") return String(arg);
    throw new RestError(
      400,
      `ERR ${where}: argument ${i} must be a string, number or boolean, got ${arg === null ? "null" : typeof arg}`,
    );
  });
}

function parseCommandList(body: Buffer, endpoint: string): Arg[][] {
  const value = parseJson(body);
  if (!Array.isArray(value) || value.length === 0) {
    throw new RestError(
      400,
      `ERR /${endpoint} expects a non-empty two-dimensional JSON array: [[CMD, ARG…], …]`,
    );
  }
  return value.map((cmd, i) => parseCommand(cmd, `command ${i + 1}`));
}

/** Resolves once the HTTP client has gone away (used to abandon blocking commands). */
function gone(res: ServerResponse): { readonly value: boolean; promise: Promise<void> } {
  let done = false;
  const promise = new Promise<void>((resolve) => {
    res.once("close", () => {
      done = true;
      resolve();
    });
  });
  return {
    get value() {
      return done;
    },
    promise,
  };
}

// ─── responses ─────────────────────────────────────────────────────────────────────────────────

function encodeOutcome(outcome: Outcome, base64: boolean): { result: Json } | { error: string } {
  if ("error" in outcome) return { error: outcome.error };
  return { result: toJson(outcome.result, base64, true) };
}

/** RESP → JSON as Upstash does: bulk and status strings as text (or base64), errors as text. */
function toJson(value: Resp, base64: boolean, top: boolean): Json {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") return encodeString(Buffer.from(value), base64, top);
  if (Buffer.isBuffer(value)) return encodeString(value, base64, top);
  if (value instanceof Error) return value.message;
  return value.map((v) => toJson(v, base64, false));
}

function encodeString(buf: Buffer, base64: boolean, top: boolean): string {
  if (!base64) return buf.toString("utf8");
  if (top && buf.length === 2 && buf.toString("latin1") === "OK") return "OK";
  return buf.toString("base64");
}

// ─── command execution ─────────────────────────────────────────────────────────────────────────

function commandName(command: Arg[]): string {
  return String(command[0]).toUpperCase();
}

/** An error message if the command cannot run over this API, else undefined. */
function refusal(command: Arg[]): string | undefined {
  const name = commandName(command);
  if (REFUSED.has(name)) {
    return `ERR Command is not available over the REST API: '${name.toLowerCase()}' (connection-state command)`;
  }
  if (name === "CLIENT" && command.length > 1) {
    const sub = String(command[1]).toUpperCase();
    if (REFUSED_CLIENT_SUBCOMMANDS.has(sub)) {
      return `ERR Command is not available over the REST API: 'client|${sub.toLowerCase()}'`;
    }
  }
  return undefined;
}

function isBlocking(command: Arg[]): boolean {
  const name = commandName(command);
  if (BLOCKING.has(name)) return true;
  if (name === "XREAD" || name === "XREADGROUP") {
    return command.some((a, i) => i > 0 && String(a).toUpperCase() === "BLOCK");
  }
  return false;
}

/** Sends one command on `conn` with a name ioredis has no special handling for. */
async function call(conn: Redis, command: Arg[]): Promise<Resp> {
  const [name, ...args] = command;
  // ioredis turns a lower-case `hgetall` reply into an object; upper case bypasses that. Other
  // names keep the client's spelling, so Redis' error messages quote them as the client sent them.
  const sent = String(name).toLowerCase() === "hgetall" ? "HGETALL" : String(name);
  return (await conn.callBuffer(sent, ...args)) as Resp;
}

/** Runs `command` on `conn` with the script-flag rewriting applied. */
async function execute(conn: Redis, scripts: ScriptShas, command: Arg[]): Promise<Resp> {
  const rewritten = scripts.rewrite(command);
  const reply = await call(conn, rewritten.command);
  return rewritten.mapReply(reply);
}

async function runSingle(
  pool: ConnectionPool,
  scripts: ScriptShas,
  command: Arg[],
  clientGone: { readonly value: boolean; promise: Promise<void> },
): Promise<Outcome> {
  const refused = refusal(command);
  if (refused) return { error: refused };
  if (!isBlocking(command)) {
    return rawOutcome(execute(pool.shared, scripts, command));
  }
  return pool.withDedicated(clientGone, (conn) => rawOutcome(execute(conn, scripts, command)));
}

async function runPipeline(
  pool: ConnectionPool,
  scripts: ScriptShas,
  commands: Arg[][],
  clientGone: { readonly value: boolean; promise: Promise<void> },
): Promise<Outcome[]> {
  const runAll = (conn: Redis) =>
    Promise.all(
      commands.map((command) => {
        const refused = refusal(command);
        if (refused) return Promise.resolve<Outcome>({ error: refused });
        return rawOutcome(execute(conn, scripts, command));
      }),
    );
  if (!commands.some(isBlocking)) return runAll(pool.shared);
  return pool.withDedicated(clientGone, runAll);
}

/**
 * MULTI, the commands, EXEC on a connection nobody else uses meanwhile. A command that fails to
 * queue (unknown command, wrong arity, refused here) discards the whole transaction: one error,
 * as Upstash answers.
 */
async function runTransaction(
  pool: ConnectionPool,
  scripts: ScriptShas,
  commands: Arg[][],
): Promise<Outcome[]> {
  for (const command of commands) {
    const refused = refusal(command);
    if (refused) throw new RestError(400, refused);
  }
  const conn = await pool.acquire();
  let healthy = false;
  try {
    await call(conn, ["MULTI"]);
    const rewrites = commands.map((command) => scripts.rewrite(command));
    const queued = await Promise.allSettled(rewrites.map((r) => call(conn, r.command)));
    const queueError = queued.find((q): q is PromiseRejectedResult => q.status === "rejected");
    if (queueError) {
      const reason: unknown = queueError.reason;
      if (!isReplyError(reason)) throw reason;
      await call(conn, ["DISCARD"]);
      healthy = true;
      throw new RestError(400, reason.message);
    }
    const replies = await call(conn, ["EXEC"]);
    healthy = true;
    if (!Array.isArray(replies)) {
      throw new RestError(400, "ERR transaction aborted");
    }
    return replies.map((reply, i): Outcome => {
      if (reply instanceof Error) return { error: reply.message };
      return { result: (rewrites[i] as ScriptRewrite).mapReply(reply) };
    });
  } finally {
    if (healthy) pool.release(conn);
    else pool.discard(conn);
  }
}

/** Redis' error replies become `{error}`; anything else (connection lost, …) is thrown: 500. */
async function rawOutcome(run: Promise<Resp>): Promise<Outcome> {
  try {
    return { result: await run };
  } catch (err) {
    if (isReplyError(err)) return { error: err.message };
    throw err;
  }
}

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === "ReplyError";
}

// ─── connections ───────────────────────────────────────────────────────────────────────────────

function connect(url: string): Redis {
  const conn = new Redis(url, {
    maxRetriesPerRequest: 2,
    enableAutoPipelining: false,
    connectionName: "upstash-rest-gateway",
  });
  conn.on("error", () => {
    // Reconnects on its own; the failing commands report the error to their callers.
  });
  return conn;
}

/** One shared connection for ordinary commands, a small pool of dedicated ones for the rest. */
class ConnectionPool {
  readonly shared: Redis;
  private readonly url: string;
  private readonly idle: Redis[] = [];
  private readonly all = new Set<Redis>();

  constructor(url: string) {
    this.url = url;
    this.shared = connect(url);
    this.all.add(this.shared);
  }

  async acquire(): Promise<Redis> {
    const conn = this.idle.pop();
    if (conn) return conn;
    const created = connect(this.url);
    this.all.add(created);
    return created;
  }

  release(conn: Redis): void {
    if (this.idle.length < IDLE_DEDICATED) this.idle.push(conn);
    else this.discard(conn);
  }

  discard(conn: Redis): void {
    this.all.delete(conn);
    conn.disconnect();
  }

  /** Runs `fn` on a dedicated connection, dropped if the HTTP client leaves before it finishes. */
  async withDedicated<T>(
    clientGone: { readonly value: boolean; promise: Promise<void> },
    fn: (conn: Redis) => Promise<T>,
  ): Promise<T> {
    const conn = await this.acquire();
    let finished = false;
    void clientGone.promise.then(() => {
      if (!finished) this.discard(conn);
    });
    try {
      const result = await fn(conn);
      finished = true;
      if (clientGone.value) this.discard(conn);
      else this.release(conn);
      return result;
    } catch (err) {
      finished = true;
      this.discard(conn);
      throw err;
    }
  }

  async close(): Promise<void> {
    const conns = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(
      conns.map(async (conn) => {
        try {
          await conn.quit();
        } catch {
          conn.disconnect();
        }
      }),
    );
  }
}

// ─── Lua scripts ───────────────────────────────────────────────────────────────────────────────

interface ScriptRewrite {
  command: Arg[];
  mapReply: (reply: Resp) => Resp;
}

const sha1 = (script: Arg) => createHash("sha1").update(script).digest("hex");

/**
 * redis-server refuses shebang flags it does not know (`#!lua flags=allow-key-locking`). Such
 * scripts are rewritten without those flags; the SHA1 the client computed (of its own text) is
 * mapped to the SHA1 of the rewritten text so EVALSHA keeps working.
 */
class ScriptShas {
  private readonly toServer = new Map<string, string>();

  rewrite(command: Arg[]): ScriptRewrite {
    const name = commandName(command);
    const identity = { command, mapReply: (r: Resp) => r };
    if ((name === "EVAL" || name === "EVAL_RO") && command.length > 1) {
      const script = command[1] as Arg;
      const cleaned = this.clean(script);
      if (cleaned === undefined) return identity;
      return { command: [command[0] as Arg, cleaned, ...command.slice(2)], mapReply: (r) => r };
    }
    if ((name === "EVALSHA" || name === "EVALSHA_RO") && command.length > 1) {
      const sha = String(command[1]).toLowerCase();
      const server = this.toServer.get(sha);
      if (server === undefined) return identity;
      return { command: [command[0] as Arg, server, ...command.slice(2)], mapReply: (r) => r };
    }
    if (name === "SCRIPT" && command.length > 2) {
      const sub = String(command[1]).toUpperCase();
      if (sub === "LOAD") {
        const script = command[2] as Arg;
        const cleaned = this.clean(script);
        if (cleaned === undefined) return identity;
        const clientSha = sha1(script);
        return {
          command: [command[0] as Arg, command[1] as Arg, cleaned],
          mapReply: () => Buffer.from(clientSha),
        };
      }
      if (sub === "EXISTS") {
        const shas = command
          .slice(2)
          .map((s) => this.toServer.get(String(s).toLowerCase()) ?? String(s));
        return { command: [command[0] as Arg, command[1] as Arg, ...shas], mapReply: (r) => r };
      }
    }
    return identity;
  }

  /** The script without unknown shebang flags, or undefined when it needs no change. */
  private clean(script: Arg): Arg | undefined {
    const text = typeof script === "string" ? script : script.toString("utf8");
    if (!text.startsWith("#!")) return undefined;
    const newline = text.indexOf("\n");
    const first = newline === -1 ? text : text.slice(0, newline);
    const rest = newline === -1 ? "" : text.slice(newline);
    const match = /^(#!\S+)(.*)$/.exec(first);
    if (!match) return undefined;
    const [, engine, options] = match as unknown as [string, string, string];
    let changed = false;
    const kept = options
      .trim()
      .split(/\s+/)
      .filter((opt) => opt.length > 0)
      .map((opt) => {
        if (!opt.startsWith("flags=")) return opt;
        const flags = opt.slice("flags=".length).split(",");
        const known = flags.filter((f) => f === "" || REDIS_SCRIPT_FLAGS.has(f));
        if (known.length !== flags.length) changed = true;
        return `flags=${known.filter((f) => f !== "").join(",")}`;
      });
    if (!changed) return undefined;
    const cleaned = `${[engine, ...kept].join(" ")}${rest}`;
    const clientSha = sha1(script);
    const serverSha = sha1(cleaned);
    this.toServer.set(clientSha, serverSha);
    return cleaned;
  }
}
