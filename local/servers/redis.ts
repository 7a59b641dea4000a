/**
 * A real `redis-server` of the project's own: its own port, working directory and pid file, in
 * the foreground (`--daemonize no`) so it stays our child. No persistence (`--save ""`,
 * `--appendonly no`): local Redis data (rate-limit windows, event snapshots, the Kafka stand-in's
 * streams) is lost when the server stops. Layout of `dataDir`: `redis.pid`, `redis.log`.
 */
import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { type Binaries, ensureBinaries } from "./binaries.ts";
import {
  clearStale,
  freePort,
  isPortFree,
  runsIn,
  spawnServer,
  stopPid,
  tail,
  waitFor,
  writePidFile,
} from "./process.ts";

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

  const fixedPort = opts.port !== undefined && opts.port !== 0;
  if (fixedPort && !(await isPortFree(opts.port as number, HOST))) {
    throw new Error(`redis: port ${opts.port} on ${HOST} is already in use`);
  }

  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ? (opts.port as number) : await freePort(HOST);
    const args = [
      "--port",
      String(port),
      "--bind",
      HOST,
      "--dir",
      dir,
      "--pidfile",
      pidFile,
      "--daemonize",
      "no",
      "--supervised",
      "no",
      "--save",
      "",
      "--appendonly",
      "no",
      "--logfile",
      "",
      "--protected-mode",
      "yes",
    ];
    const spawned = await spawnServer(bin.redisServer, args, { logFile, cwd: dir });
    writePidFile(pidFile, spawned.pid);
    try {
      await waitFor(`redis-server on ${HOST}:${port}`, () => redisPing(HOST, port), {
        timeoutMs: opts.readyTimeoutMs ?? 30_000,
        intervalMs: 15,
        spawned,
        describe: () => `log ${logFile}:\n${tail(logFile)}`,
      });
    } catch (err) {
      await stopPid(spawned.pid, { timeoutMs: 5_000, exited: spawned.exited });
      const portTaken = /Address already in use/i.test(tail(logFile, 5));
      if (!fixedPort && portTaken && attempt < 3) continue;
      throw err;
    }
    let stopping: Promise<void> | undefined;
    return {
      host: HOST,
      port,
      url: `redis://${HOST}:${port}`,
      pid: spawned.pid,
      dataDir: dir,
      logFile,
      stop() {
        stopping ??= stopPid(spawned.pid, { timeoutMs: 10_000, exited: spawned.exited });
        return stopping;
      },
    };
  }
}
