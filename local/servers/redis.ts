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
 */
import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { type Binaries, ensureBinaries } from "./binaries.ts";
import { clearStale, runsIn, startOnPort } from "./process.ts";

export interface RedisServer {
  host: string;
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
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

/** Sends PING over a fresh connection; true on `+PONG`. */
export function redisPing(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = connect({ host, port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePing(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
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
      };
      return Object.entries(flags).flatMap(([name, value]) => [`--${name}`, value]);
    },
    host: HOST,
    port: opts.port,
    cwd: dir,
    logFile,
    pidFile,
    ready: (port) => redisPing(HOST, port),
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
    readyIntervalMs: 15,
    portTaken: /Address already in use/i,
    stopTimeoutMs: 10_000,
  });
  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    pid: spawned.pid,
    dataDir: dir,
    logFile,
    stop,
  };
}
