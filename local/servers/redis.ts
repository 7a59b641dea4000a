/**
 * A real `redis-server` of the project's own: its own port, working directory and pid file, in
 * the foreground (`--daemonize no`) so it stays our child. Layout of `dataDir`: `redis.pid`,
 * `redis.log`, and with `persist` the append-only file in `appendonlydir/`.
 *
 * Without `persist` (`npm test`) nothing is written to disk: the data (rate-limit windows, event
 * snapshots, the Kafka stand-in's topics and committed offsets) is gone when the server stops.
 * With it (`npm start`) every write goes to the append-only file (AOF, fsync once a second;
 * no RDB snapshots), which the next start in the same folder loads before it answers PING: the
 * topic and the consumer groups' offsets survive a stop, as on a broker. A crash (SIGKILL) may
 * lose the last second of writes.
 *
 * Every client authenticates with a password random per start (in `url`, and so in the stack
 * file, mode 0600): another user of a shared machine cannot run commands on it.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { type Binaries, ensureBinaries } from "./binaries.ts";
import { clearStale, runsIn, startOnPort } from "./process.ts";

export interface RedisServer {
  host: string;
  port: number;
  /** `redis://:<password>@127.0.0.1:<port>` */
  url: string;
  password: string;
  pid: number;
  dataDir: string;
  logFile: string;
  /** SIGTERM (SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  dataDir: string;
  /** 0 or absent: a free port. */
  port?: number;
  binaries?: Binaries;
  readyTimeoutMs?: number;
  /** Keep the data across restarts in an append-only file under `dataDir`. Default false. */
  persist?: boolean;
}

const HOST = "127.0.0.1";

/** Sends PING (after AUTH, given a password) over a fresh connection; true on `+PONG`. */
export function redisPing(
  host: string,
  port: number,
  timeoutMs = 1_000,
  password?: string,
): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = connect({ host, port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePing(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () =>
      socket.write(password === undefined ? "PING\r\n" : `AUTH ${password}\r\nPING\r\n`),
    );
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.includes("+PONG")) done(true);
      else if (reply.startsWith("-") || reply.includes("\r\n-")) done(false);
    });
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}

export async function startRedis(opts: StartRedisOptions): Promise<RedisServer> {
  const bin = opts.binaries ?? ensureBinaries();
  const dir = resolve(opts.dataDir);
  const pidFile = join(dir, "redis.pid");
  const logFile = join(dir, "redis.log");
  mkdirSync(dir, { recursive: true });

  // redis-server rewrites its command line, so an orphan is recognised by its working directory.
  const stale = await clearStale({
    pidFile,
    files: [],
    owns: (pid) => runsIn(pid, ["redis-server", "redis-check-rdb"], dir),
  });
  if (stale.orphanStopped)
    console.error(`redis: stopped orphaned redis-server pid ${stale.orphanStopped}`);

  const password = randomBytes(24).toString("base64url");
  const { spawned, port, stop } = await startOnPort({
    name: "redis",
    exe: "redis-server",
    command: bin.redisServer,
    args: (port) => {
      const flags: Record<string, string> = {
        port: String(port),
        bind: HOST,
        dir,
        pidfile: pidFile,
        daemonize: "no",
        supervised: "no",
        save: "",
        appendonly: opts.persist ? "yes" : "no",
        appendfsync: "everysec",
        appenddirname: "appendonlydir",
        logfile: "",
        "protected-mode": "yes",
        requirepass: password,
      };
      return Object.entries(flags).flatMap(([name, value]) => [`--${name}`, value]);
    },
    host: HOST,
    port: opts.port,
    cwd: dir,
    logFile,
    pidFile,
    ready: (port) => redisPing(HOST, port, 1_000, password),
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
    readyIntervalMs: 15,
    portTaken: /Address already in use/i,
    stopTimeoutMs: 10_000,
  });
  return {
    host: HOST,
    port,
    url: `redis://:${password}@${HOST}:${port}`,
    password,
    pid: spawned.pid,
    dataDir: dir,
    logFile,
    stop,
  };
}
