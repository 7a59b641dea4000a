/**
 * Stand-in for the Upstash Redis REST API, backed by a real redis-server: what `@upstash/redis`
 * (and `@upstash/ratelimit` on top of it) sends, so both work unmodified.
 *
 *   POST /             body `["SET","k","v","EX",100]`         → `{ "result": "OK" }`
 *   POST /pipeline     body `[["SET","k","v"],["INCR","k"]]`  → `[{result}|{error}, …]`
 *   POST /multi-exec   the same, run as MULTI/EXEC on a connection of its own → `[{result}|{error}, …]`,
 *                      or one `{error}` when a command cannot be queued (the transaction is discarded)
 *
 * `Authorization: Bearer <token>`, else 401 `{"error":"WRONGPASS invalid or missing auth token"}`.
 * A failing command answers 400 `{error}` with Redis' own message. `Upstash-Encoding: base64` (the
 * client's default): every string in the result is base64, except a top-level "OK".
 *
 * Lua shebang flags only Upstash knows (`#!lua flags=allow-key-locking`, sent by
 * @upstash/ratelimit) are removed before redis-server sees the script; EVALSHA and SCRIPT
 * LOAD/EXISTS keep answering with the SHA1 of the script the client sent, so the client's
 * EVALSHA-then-EVAL fallback behaves as against Upstash. Commands that change connection state
 * (SELECT, MULTI, SUBSCRIBE, …) are refused: the API is stateless and connections are shared.
 */
import { createHash } from "node:crypto";
import { type Context, Hono } from "hono";
import { Redis } from "ioredis";
import { z } from "zod";
import type { Faults } from "./faults.ts";
import { bearerToken, safeEqual } from "./http.ts";

type Arg = string | Buffer;
/** A RESP value as ioredis' `callBuffer` yields it. */
type Resp = Buffer | string | number | bigint | null | Error | Resp[];
type Json = string | number | null | Json[];
type Outcome = { result: Json } | { error: string };

const REFUSED =
  /^(AUTH|HELLO|SELECT|QUIT|RESET|MULTI|EXEC|DISCARD|WATCH|UNWATCH|P?S?SUBSCRIBE|P?S?UNSUBSCRIBE|MONITOR|SYNC|PSYNC|BLPOP|BRPOP|BLMOVE|BLMPOP|BZPOPMIN|BZPOPMAX|WAIT)$/i;
/** Shebang flags redis-server 7 accepts; any other flag (Upstash's own) is dropped. */
const REDIS_SCRIPT_FLAGS = new Set([
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
]);

const Command = z.array(z.union([z.string(), z.number(), z.boolean()]).transform(String)).min(1);
const Commands = z.array(Command).min(1);

class CommandError extends Error {}

export function createUpstashRedisGateway(opts: {
  redisUrl: string;
  token: string;
  faults: Faults;
}): { fetch: Hono["fetch"]; close(): Promise<void> } {
  const connect = () => {
    const conn = new Redis(opts.redisUrl, {
      maxRetriesPerRequest: 2,
      connectionName: "upstash-gateway",
    });
    conn.on("error", () => {
      // Reconnects on its own; failing commands report the error to their callers.
    });
    return conn;
  };
  const shared = connect();
  /** Idle connections for transactions (MULTI/EXEC needs a connection nobody else uses meanwhile). */
  const idle: Redis[] = [];
  const busy = new Set<Redis>();
  const scripts = new ScriptShas();

  const run = async (conn: Redis, command: Arg[]): Promise<Outcome> => {
    const name = String(command[0]);
    if (REFUSED.test(name))
      return { error: `ERR Command is not available over the REST API: '${name.toLowerCase()}'` };
    const rewritten = scripts.rewrite(command);
    try {
      return { result: toJson(rewritten.mapReply(await call(conn, rewritten.command))) };
    } catch (err) {
      if (isReplyError(err)) return { error: err.message };
      throw err;
    }
  };

  async function transaction(commands: Arg[][]): Promise<Outcome[]> {
    const refused = commands.find((c) => REFUSED.test(String(c[0])));
    if (refused)
      throw new CommandError(`ERR Command is not available over the REST API: '${refused[0]}'`);
    const conn = idle.pop() ?? connect();
    busy.add(conn);
    let healthy = false;
    try {
      await call(conn, ["MULTI"]);
      const rewrites = commands.map((command) => scripts.rewrite(command));
      const queued = await Promise.allSettled(rewrites.map((r) => call(conn, r.command)));
      const failed = queued.find((q): q is PromiseRejectedResult => q.status === "rejected");
      if (failed && isReplyError(failed.reason)) {
        await call(conn, ["DISCARD"]);
        healthy = true;
        throw new CommandError(failed.reason.message);
      }
      if (failed) throw failed.reason;
      const replies = await call(conn, ["EXEC"]);
      healthy = true;
      if (!Array.isArray(replies)) throw new CommandError("ERR transaction aborted");
      return replies.map((reply, i) =>
        reply instanceof Error
          ? { error: reply.message }
          : { result: toJson((rewrites[i] as ScriptRewrite).mapReply(reply)) },
      );
    } finally {
      busy.delete(conn);
      if (healthy && idle.length < 4) idle.push(conn);
      else conn.disconnect();
    }
  }

  const commandsOf = async <T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> => {
    let value: unknown;
    try {
      value = JSON.parse(await c.req.text());
    } catch (err) {
      throw new CommandError(`ERR failed to parse request body as JSON: ${(err as Error).message}`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new CommandError(
        `ERR ${c.req.path === "/" ? "[COMMAND, ARG1, …]" : "[[COMMAND, ARG1, …], …]"} expected`,
      );
    return parsed.data;
  };

  const app = new Hono()
    .use(async (c, next) => {
      const given = bearerToken(c.req.header("Authorization"));
      if (given !== undefined && safeEqual(given, opts.token)) return next();
      return c.json({ error: "WRONGPASS invalid or missing auth token" }, 401);
    })
    .post("/", async (c) => {
      const outcome = await run(shared, await commandsOf(c, Command));
      return c.json(encode(outcome, c), "error" in outcome ? 400 : 200);
    })
    .post("/pipeline", async (c) => {
      const commands = await commandsOf(c, Commands);
      const outcomes = await Promise.all(commands.map((command) => run(shared, command)));
      return c.json(outcomes.map((o) => encode(o, c)));
    })
    .post("/multi-exec", async (c) => {
      const outcomes = await transaction(await commandsOf(c, Commands));
      return c.json(outcomes.map((o) => encode(o, c)));
    });
  app.notFound((c) => c.json({ error: `ERR unknown endpoint ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) =>
    err instanceof CommandError
      ? c.json({ error: err.message }, 400)
      : c.json({ error: `ERR ${err.message}` }, 500),
  );

  return {
    fetch: app.fetch,
    async close() {
      for (const conn of [shared, ...idle, ...busy])
        await conn.quit().catch(() => conn.disconnect());
    },
  };
}

/** Sends one command. ioredis turns a lower-case `hgetall` reply into an object; upper case does not. */
async function call(conn: Redis, command: Arg[]): Promise<Resp> {
  const [name, ...args] = command;
  const sent = String(name).toLowerCase() === "hgetall" ? "HGETALL" : String(name);
  return (await conn.callBuffer(sent, ...args)) as Resp;
}

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === "ReplyError";
}

/** RESP → JSON: bulk and status strings as Buffers (encoded when answered), errors as text. */
function toJson(value: Resp): Json {
  if (value === null || typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Error) return value.message;
  if (Array.isArray(value)) return value.map(toJson);
  return Buffer.from(value).toString("latin1");
}

/** The answer's strings in UTF-8, or base64 when the client asked (except a top-level "OK"). */
function encode(outcome: Outcome, c: Context): Outcome {
  if ("error" in outcome) return outcome;
  const base64 = c.req.header("Upstash-Encoding")?.toLowerCase() === "base64";
  const text = (s: string) => Buffer.from(s, "latin1").toString(base64 ? "base64" : "utf8");
  const walk = (v: Json): Json =>
    typeof v === "string" ? text(v) : Array.isArray(v) ? v.map(walk) : v;
  return { result: outcome.result === "OK" ? "OK" : walk(outcome.result) };
}

// ─── Lua scripts ───────────────────────────────────────────────────────────────────────────────

interface ScriptRewrite {
  command: Arg[];
  mapReply: (reply: Resp) => Resp;
}

const sha1 = (script: Arg) => createHash("sha1").update(script).digest("hex");

/**
 * Scripts with shebang flags redis-server does not know are sent without them; the SHA1 the client
 * computed (of its own text) is mapped to the SHA1 of the text the server has, for EVALSHA.
 */
class ScriptShas {
  private readonly toServer = new Map<string, string>();

  rewrite(command: Arg[]): ScriptRewrite {
    const [name = "", first, ...rest] = command;
    const upper = String(name).toUpperCase();
    const same = { command, mapReply: (r: Resp) => r };
    if (first === undefined) return same;
    if (upper === "EVAL" || upper === "EVAL_RO") {
      const cleaned = this.clean(first);
      return cleaned === undefined
        ? same
        : { command: [name, cleaned, ...rest], mapReply: (r) => r };
    }
    if (upper === "EVALSHA" || upper === "EVALSHA_RO") {
      const server = this.toServer.get(String(first).toLowerCase());
      return server === undefined ? same : { command: [name, server, ...rest], mapReply: (r) => r };
    }
    if (upper === "SCRIPT" && String(first).toUpperCase() === "LOAD" && rest[0] !== undefined) {
      const cleaned = this.clean(rest[0]);
      if (cleaned === undefined) return same;
      const clientSha = sha1(rest[0]);
      return { command: [name, first, cleaned], mapReply: () => Buffer.from(clientSha) };
    }
    if (upper === "SCRIPT" && String(first).toUpperCase() === "EXISTS") {
      const shas = rest.map((s) => this.toServer.get(String(s).toLowerCase()) ?? String(s));
      return { command: [name, first, ...shas], mapReply: (r) => r };
    }
    return same;
  }

  /** The script without unknown shebang flags, or undefined when it needs no change. */
  private clean(script: Arg): string | undefined {
    const text = script.toString();
    const match = /^(#!\S+)([^\n]*)/.exec(text);
    if (!match) return undefined;
    const [first, engine, options] = match as unknown as [string, string, string];
    let changed = false;
    const kept = options
      .trim()
      .split(/\s+/)
      .filter((option) => option !== "")
      .map((option) => {
        if (!option.startsWith("flags=")) return option;
        const flags = option
          .slice("flags=".length)
          .split(",")
          .filter((f) => f !== "");
        const known = flags.filter((f) => REDIS_SCRIPT_FLAGS.has(f));
        changed ||= known.length !== flags.length;
        return `flags=${known.join(",")}`;
      });
    if (!changed) return undefined;
    const cleaned = `${[engine, ...kept].join(" ")}${text.slice(first.length)}`;
    this.toServer.set(sha1(script), sha1(cleaned));
    return cleaned;
  }
}
