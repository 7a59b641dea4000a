/**
 * A real MariaDB server (`mariadbd`) of the project's own: its own data folder, port, socket and
 * pid file, started with `--no-defaults` so neither /etc/mysql nor the machine's own MariaDB is
 * ever read or touched. Layout of `dataDir`:
 *
 *   data/          the MariaDB data directory (created by mariadb-install-db on first start)
 *   mariadbd.pid   pid file (also written by us right after spawning, so an orphan can be found)
 *   mariadbd.sock  unix socket (root connects through it; in the temp dir if the path is too long)
 *   mariadbd.log   the server's error log (stdout/stderr)
 *   install.log    output of mariadb-install-db
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createConnection } from "mysql2/promise";
import type { MysqlEndpoint } from "../stack-types.ts";
import { type Binaries, ensureBinaries } from "./binaries.ts";
import { clearStale, runsIn, spawnServer, startOnPort, tail } from "./process.ts";

export interface MariaDBServer extends MysqlEndpoint {
  pid: number;
  /** Unix socket; `root` (no password) can connect through it for administration. */
  socket: string;
  dataDir: string;
  logFile: string;
  /** Clean shutdown (SIGTERM; SIGKILL after 20 s). Idempotent. */
  stop(): Promise<void>;
}

export interface StartMariaDBOptions {
  dataDir: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** Address to bind and to report; default 127.0.0.1. */
  host?: string;
  binaries?: Binaries;
  /** Default 60 s (first start after a crash includes InnoDB recovery). */
  readyTimeoutMs?: number;
}

export const MARIADB_USER = "coupons";
export const MARIADB_PASSWORD = "coupons-local";
export const MARIADB_DATABASE = "coupons";

/** Server settings: small, UTC, utf8mb4, and SQL mode as on MySQL 8 (PlanetScale). */
const SERVER_FLAGS = [
  "--skip-name-resolve",
  "--character-set-server=utf8mb4",
  "--collation-server=utf8mb4_unicode_ci",
  "--default-time-zone=+00:00",
  "--sql-mode=ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION",
  "--innodb-buffer-pool-size=64M",
  "--innodb-log-file-size=32M",
  // Commits survive a crash of mariadbd (the log is written at commit), not of the machine.
  "--innodb-flush-log-at-trx-commit=2",
  "--performance-schema=OFF",
  "--max-connections=500",
];

const asRoot = () => process.getuid?.() === 0;

function socketPathFor(dir: string): string {
  const local = join(dir, "mariadbd.sock");
  // sun_path holds 108 bytes; fall back to a short, stable path in the temp dir.
  if (Buffer.byteLength(local) <= 100) return local;
  const hash = createHash("sha256").update(dir).digest("hex").slice(0, 16);
  return join(tmpdir(), `coupons-mariadb-${hash}.sock`);
}

/** First start: mariadb-install-db into a scratch folder, renamed into place once complete. */
async function initialise(bin: Binaries, dir: string, dataPath: string): Promise<void> {
  if (existsSync(join(dataPath, "mysql"))) return;
  const scratch = `${dataPath}.init`;
  rmSync(scratch, { recursive: true, force: true });
  rmSync(dataPath, { recursive: true, force: true });
  const logFile = join(dir, "install.log");
  const args = [
    "--no-defaults",
    `--datadir=${scratch}`,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    ...(asRoot() ? ["--user=root"] : []),
    ...SERVER_FLAGS,
  ];
  const install = await spawnServer(bin.mariadbInstallDb, args, { logFile, cwd: dir });
  const { code, signal } = await install.exited;
  if (code !== 0) {
    throw new Error(
      `mariadb-install-db failed (${signal ?? `exit ${code}`}); see ${logFile}:\n${tail(logFile)}`,
    );
  }
  renameSync(scratch, dataPath);
}

async function rootConnection(socketPath: string) {
  return createConnection({ socketPath, user: "root", password: "", connectTimeout: 2_000 });
}

/** Starts (initialising on first run) a MariaDB server and creates the `coupons` database and user. */
export async function startMariaDB(opts: StartMariaDBOptions): Promise<MariaDBServer> {
  const bin = opts.binaries ?? ensureBinaries();
  const host = opts.host ?? "127.0.0.1";
  const dir = resolve(opts.dataDir);
  const dataPath = join(dir, "data");
  const pidFile = join(dir, "mariadbd.pid");
  const socket = socketPathFor(dir);
  const logFile = join(dir, "mariadbd.log");
  mkdirSync(dir, { recursive: true });

  // A crash (ours or the server's) may have left a pid file, a socket, or an orphaned server.
  const stale = await clearStale({
    pidFile,
    files: [socket],
    owns: (pid) => runsIn(pid, ["mariadbd", "mysqld"], dataPath),
  });
  if (stale.orphanStopped)
    console.error(`mariadb: stopped orphaned mariadbd pid ${stale.orphanStopped}`);

  await initialise(bin, dir, dataPath);

  const started = await startOnPort({
    name: "mariadb",
    exe: "mariadbd",
    command: bin.mariadbd,
    args: (port) => [
      "--no-defaults",
      `--datadir=${dataPath}`,
      `--socket=${socket}`,
      `--pid-file=${pidFile}`,
      `--port=${port}`,
      `--bind-address=${host}`,
      ...(asRoot() ? ["--user=root"] : []),
      ...SERVER_FLAGS,
    ],
    host,
    port: opts.port,
    cwd: dir,
    logFile,
    pidFile,
    ready: async () => {
      try {
        const conn = await rootConnection(socket);
        await conn.end();
        return true;
      } catch {
        return false;
      }
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    portTaken: /Address already in use|Can't start server: Bind/i,
    stopTimeoutMs: 20_000,
  });
  await setUp(socket);
  return {
    host,
    port: started.port,
    socket,
    dataDir: dir,
    logFile,
    user: MARIADB_USER,
    password: MARIADB_PASSWORD,
    database: MARIADB_DATABASE,
    pid: started.spawned.pid,
    stop: started.stop,
  };
}

/** Idempotent: the `coupons` database and its user, for TCP clients from anywhere. */
async function setUp(socket: string): Promise<void> {
  const conn = await rootConnection(socket);
  try {
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    for (const h of ["127.0.0.1", "%"]) {
      const account = `'${MARIADB_USER}'@'${h}'`;
      await conn.query(`CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY '${MARIADB_PASSWORD}'`);
      await conn.query(`ALTER USER ${account} IDENTIFIED BY '${MARIADB_PASSWORD}'`);
      await conn.query(`GRANT ALL PRIVILEGES ON \`${MARIADB_DATABASE}\`.* TO ${account}`);
    }
  } finally {
    await conn.end();
  }
}
