/**
 * A real MariaDB server (`mariadbd`) of the project's own: its own data folder, port, socket and
 * pid file, started with `--no-defaults` so neither /etc/mysql nor the machine's own MariaDB is
 * ever read or touched. Layout of `dataDir`:
 *
 *   data/          the MariaDB data directory (created by mariadb-install-db on first start)
 *   files/         secure_file_priv: the only folder LOAD DATA / SELECT … INTO OUTFILE may touch
 *   mariadbd.pid   pid file (written by us right after spawning, so an orphan can be found)
 *   server.pid     the server's own pid file
 *   mariadbd.sock  unix socket (root connects through it; in the temp dir if the path is too long)
 *   mariadbd.log   the server's error log (stdout/stderr)
 *   install.log    output of mariadb-install-db
 *
 * Shared machines: the administrator account authenticates by the unix socket's peer (the OS
 * user running this code), never over TCP and never by password; TCP serves only the `coupons`
 * user and its database. Started as root, the server drops to the `mysql` user (the Debian
 * package's) when there is one, its folder chowned to it; otherwise it says so and stays root.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { createConnection } from "mysql2/promise";
import type { MysqlEndpoint } from "../stack-types.ts";
import { type Binaries, ensureBinaries } from "./binaries.ts";
import { clearStale, runsIn, spawnServer, startOnPort, tail } from "./process.ts";

export interface MariaDBServer extends MysqlEndpoint {
  pid: number;
  /** Unix socket; the OS user running this code administers the server through it. */
  socket: string;
  /** The OS user mariadbd runs as. */
  runsAs: string;
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

/** The unprivileged account the server runs as when started by root (Debian's `mysql`). */
const SERVER_ACCOUNT = "mysql";

/**
 * Who mariadbd should run as: ourselves when not root; as root, `mysql` when that account exists
 * and can reach `dir` (its folder is chowned to it), else root, said once on stderr.
 */
function serverUser(dir: string): string {
  if (!asRoot()) return userInfo().username;
  const chown = spawnSync("chown", ["-R", `${SERVER_ACCOUNT}:`, dir], { encoding: "utf8" });
  // `mysql` must also reach the folder through its parents: try it as that user.
  const id = (flag: string) =>
    Number(spawnSync("id", [flag, SERVER_ACCOUNT], { encoding: "utf8" }).stdout.trim());
  const reach =
    chown.status === 0 &&
    spawnSync("/bin/sh", ["-c", 'test -w "$1" && test -x "$1"', "sh", dir], {
      uid: id("-u"),
      gid: id("-g"),
    }).status === 0;
  if (reach) return SERVER_ACCOUNT;
  if (!warnedRoot) {
    warnedRoot = true;
    console.error(
      `mariadb: running mariadbd as root: ${chown.status === 0 ? `user ${SERVER_ACCOUNT} cannot reach ${dir}` : `no user ${SERVER_ACCOUNT} (${(chown.stderr || "chown failed").trim()})`}; root still logs in by the unix socket only`,
    );
  }
  return "root";
}
let warnedRoot = false;

function socketPathFor(dir: string): string {
  const local = join(dir, "mariadbd.sock");
  // sun_path holds 108 bytes; fall back to a short, stable path in the temp dir.
  if (Buffer.byteLength(local) <= 100) return local;
  const hash = createHash("sha256").update(dir).digest("hex").slice(0, 16);
  return join(tmpdir(), `coupons-mariadb-${hash}.sock`);
}

/** First start: mariadb-install-db into a scratch folder, renamed into place once complete. */
async function initialise(
  bin: Binaries,
  dir: string,
  dataPath: string,
  user: string,
): Promise<void> {
  if (existsSync(join(dataPath, "mysql"))) return;
  const scratch = `${dataPath}.init`;
  rmSync(scratch, { recursive: true, force: true });
  rmSync(dataPath, { recursive: true, force: true });
  const logFile = join(dir, "install.log");
  const args = [
    "--no-defaults",
    `--datadir=${scratch}`,
    // root@localhost by unix socket peer only (and the OS user running this, when not root).
    "--auth-root-authentication-method=socket",
    `--auth-root-socket-user=${userInfo().username}`,
    "--skip-test-db",
    `--user=${user}`,
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

/**
 * The administrator's connection: as the OS user running this (unix_socket authentication); a
 * data folder made before that rule had root with no password, over the socket too.
 */
async function rootConnection(socketPath: string) {
  const me = userInfo().username;
  try {
    return await createConnection({ socketPath, user: me, connectTimeout: 2_000 });
  } catch (err) {
    if (me === "root") throw err;
    return createConnection({ socketPath, user: "root", password: "", connectTimeout: 2_000 });
  }
}

/** Starts (initialising on first run) a MariaDB server and creates the `coupons` database and user. */
export async function startMariaDB(opts: StartMariaDBOptions): Promise<MariaDBServer> {
  const bin = opts.binaries ?? ensureBinaries();
  const host = opts.host ?? "127.0.0.1";
  const dir = resolve(opts.dataDir);
  const dataPath = join(dir, "data");
  const pidFile = join(dir, "mariadbd.pid");
  // The server's own, apart from ours: it may run as another user than the one writing ours.
  const serverPidFile = join(dir, "server.pid");
  const filesPath = join(dir, "files");
  const socket = socketPathFor(dir);
  const logFile = join(dir, "mariadbd.log");
  mkdirSync(filesPath, { recursive: true });

  // A crash (ours or the server's) may have left a pid file, a socket, or an orphaned server.
  const stale = await clearStale({
    pidFile,
    files: [socket, serverPidFile],
    owns: (pid) => runsIn(pid, ["mariadbd", "mysqld"], dataPath),
  });
  if (stale.orphanStopped)
    console.error(`mariadb: stopped orphaned mariadbd pid ${stale.orphanStopped}`);

  const user = serverUser(dir);
  await initialise(bin, dir, dataPath, user);

  const started = await startOnPort({
    name: "mariadb",
    exe: "mariadbd",
    command: bin.mariadbd,
    args: (port) => [
      "--no-defaults",
      `--datadir=${dataPath}`,
      `--socket=${socket}`,
      `--pid-file=${serverPidFile}`,
      `--port=${port}`,
      `--bind-address=${host}`,
      `--user=${user}`,
      `--secure-file-priv=${filesPath}`,
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
  // A fresh password per start: other users of a shared machine cannot guess it (stack.json, 0600).
  const password = randomBytes(18).toString("base64url");
  await setUp(socket, password);
  return {
    host,
    port: started.port,
    socket,
    runsAs: user,
    dataDir: dir,
    logFile,
    user: MARIADB_USER,
    password,
    database: MARIADB_DATABASE,
    pid: started.spawned.pid,
    // The server removes its own pid file; ours goes too, so a stopped folder is clean.
    stop: () => started.stop().then(() => rmSync(pidFile, { force: true })),
  };
}

/**
 * Idempotent: the administrator by unix socket only (a folder made before that rule had root
 * without a password, over TCP too), then the `coupons` database and its user, for TCP clients.
 */
async function setUp(socket: string, password: string): Promise<void> {
  const conn = await rootConnection(socket);
  try {
    const me = userInfo().username;
    if (me !== "root") {
      await conn.query(`CREATE USER IF NOT EXISTS ?@'localhost' IDENTIFIED VIA unix_socket`, [me]);
      await conn.query(`GRANT ALL PRIVILEGES ON *.* TO ?@'localhost' WITH GRANT OPTION`, [me]);
    }
    await conn.query("ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket");
    const [others] = await conn.query(
      "SELECT User AS user, Host AS host FROM mysql.user WHERE (User = 'root' AND Host <> 'localhost') OR User = ''",
    );
    for (const { user, host } of others as { user: string; host: string }[]) {
      await conn.query("DROP USER ?@?", [user, host]);
    }
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    for (const h of ["127.0.0.1", "%"]) {
      const account = `'${MARIADB_USER}'@'${h}'`;
      await conn.query(`CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ?`, [password]);
      await conn.query(`ALTER USER ${account} IDENTIFIED BY ?`, [password]);
      await conn.query(`GRANT ALL PRIVILEGES ON \`${MARIADB_DATABASE}\`.* TO ${account}`);
    }
  } finally {
    await conn.end();
  }
}
