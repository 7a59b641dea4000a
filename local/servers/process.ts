/**
 * Process plumbing for the local servers: spawn a server that dies with us, pid files, stale
 * pid/socket cleanup after a crash, a bounded stop (SIGTERM, then SIGKILL), and waiting on
 * conditions (a TCP connect, a ping) instead of fixed sleeps.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { basename } from "node:path";
import { portInUseAdvice } from "./port-holder.ts";

export interface Spawned {
  child: ChildProcess;
  pid: number;
  /** Resolves once the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once `exited` has resolved. */
  hasExited(): boolean;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Our servers must not outlive us. They stay in our process group (a terminal's Ctrl-C reaches
 * them too), and when this process exits (normally or via process.exit) each one still running
 * gets SIGTERM, so it shuts down cleanly on its own. Only SIGKILL of this process can orphan
 * them; the next start in the same data folder then finds and stops them (`clearStale`).
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
    }
  });
}

/** Starts `command` with stdout and stderr appended to `logFile`. Throws if it cannot be spawned. */
export async function spawnServer(
  command: string,
  args: string[],
  opts: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<Spawned> {
  installExitHook();
  const log = openSync(opts.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", log, log],
      detached: false,
    });
  } finally {
    closeSync(log);
  }
  const pid = await new Promise<number>((resolve, reject) => {
    child.once("spawn", () => resolve(child.pid as number));
    child.once("error", reject);
  });
  children.add(child);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, pid, exited, hasExited: () => done };
}

export interface StartedServer {
  spawned: Spawned;
  port: number;
  /** SIGTERM (SIGKILL after `stopTimeoutMs`); idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a server on a port and waits until `ready(port)`: `spawnServer` with `args(port)`, its
 * pid written to `pidFile` at once (so an orphan can be found). A fixed `port` must be free
 * beforehand; without one (0 or absent) a free port is picked, and should another process take
 * it first (the log's last lines match `portTaken`), another one, three attempts in all. A server
 * that does not become ready is stopped and the error thrown.
 */
export async function startOnPort(opts: {
  /** For messages: `<name>: port … is already in use`, `<exe> on host:port: …`. */
  name: string;
  exe: string;
  command: string;
  args: (port: number) => string[];
  host: string;
  port?: number;
  cwd: string;
  logFile: string;
  pidFile: string;
  ready: (port: number) => Promise<boolean>;
  readyTimeoutMs: number;
  readyIntervalMs?: number;
  portTaken: RegExp;
  stopTimeoutMs: number;
}): Promise<StartedServer> {
  const { host, logFile } = opts;
  const fixedPort = opts.port !== undefined && opts.port !== 0;
  if (fixedPort && !(await isPortFree(opts.port as number, host))) {
    const advice = portInUseAdvice(opts.port as number);
    throw new Error(`${opts.name}: port ${opts.port} on ${host} is already in use: ${advice}`);
  }
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ? (opts.port as number) : await freePort(host);
    const spawned = await spawnServer(opts.command, opts.args(port), { logFile, cwd: opts.cwd });
    writePidFile(opts.pidFile, spawned.pid);
    try {
      await waitFor(`${opts.exe} on ${host}:${port}`, () => opts.ready(port), {
        timeoutMs: opts.readyTimeoutMs,
        intervalMs: opts.readyIntervalMs,
        spawned,
        describe: () => `log ${logFile}:\n${tail(logFile)}`,
      });
    } catch (err) {
      await stopPid(spawned.pid, { timeoutMs: 5_000, exited: spawned.exited });
      if (!fixedPort && opts.portTaken.test(tail(logFile, 5)) && attempt < 3) continue;
      throw err;
    }
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= stopPid(spawned.pid, { timeoutMs: opts.stopTimeoutMs, exited: spawned.exited });
      return stopping;
    };
    return { spawned, port, stop };
  }
}

/**
 * Whether `pid` is a live process. A zombie (dead, not yet reaped by its parent) counts as dead.
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) S ...": the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    // Without /proc (not Linux) the signal check is all there is; with it, the pid just vanished.
    return !existsSync("/proc/self");
  }
}

export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function writePidFile(path: string, pid: number): void {
  writeFileSync(path, `${pid}\n`);
}

/**
 * Makes a data folder startable again after a crash. If `pidFile` names a live process that
 * `owns` recognises as our server (orphaned by a crashed parent), it is stopped. Then the pid file
 * and `files` (sockets…) are removed. A live pid that is not ours (the pid number was reused) is
 * left alone. Returns what was found, for logging.
 */
export async function clearStale(opts: {
  pidFile: string;
  files: string[];
  owns: (pid: number) => boolean;
  stopTimeoutMs?: number;
}): Promise<{ orphanStopped?: number; stalePid?: number }> {
  const pid = readPidFile(opts.pidFile);
  const found: { orphanStopped?: number; stalePid?: number } = {};
  if (pid !== undefined) {
    if (isAlive(pid) && opts.owns(pid)) {
      await stopPid(pid, { timeoutMs: opts.stopTimeoutMs ?? 20_000 });
      found.orphanStopped = pid;
    } else {
      found.stalePid = pid;
    }
  }
  for (const file of [opts.pidFile, ...opts.files]) rmSync(file, { force: true });
  return found;
}

/** Whether `pid` runs one of `exeNames` with `cwd` as its working directory (Linux only). */
export function runsIn(pid: number, exeNames: string[], cwd: string): boolean {
  try {
    const exe = basename(readlinkSync(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, "");
    return exeNames.includes(exe) && readlinkSync(`/proc/${pid}/cwd`) === realpathSync(cwd);
  } catch {
    return false;
  }
}

/**
 * Stops `pid`: SIGTERM, waits up to `timeoutMs` for it to be gone, then SIGKILL and waits again.
 * `exited`, when given (our own child), is awaited too, so the exit has been reaped on return.
 */
export async function stopPid(
  pid: number,
  opts: { timeoutMs: number; exited?: Promise<unknown> },
): Promise<void> {
  const gone = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    if (opts.exited) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((r) => {
        timer = setTimeout(() => r(false), ms);
      });
      const ok = await Promise.race([opts.exited.then(() => true), timedOut]);
      clearTimeout(timer);
      return ok;
    }
    return waitUntil(() => !isAlive(pid), { until: deadline, intervalMs: 20 });
  };
  if (!signal(pid, "SIGTERM")) {
    if (opts.exited) await opts.exited;
    return;
  }
  if (await gone(opts.timeoutMs)) return;
  signal(pid, "SIGKILL");
  if (!(await gone(5_000))) throw new Error(`pid ${pid} survived SIGKILL for 5 s`);
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it is true (returns true) or `until` (epoch ms) passes (returns false). */
async function waitUntil(
  check: () => boolean | Promise<boolean>,
  opts: { until: number; intervalMs: number },
): Promise<boolean> {
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= opts.until) return false;
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

/**
 * Awaits a condition: polls `check` (a ping, a TCP connect) every `intervalMs` until it returns
 * true. Fails early when `spawned` exits, and after `timeoutMs`, with `describe()` (e.g. the tail
 * of the server's log) in the message.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; spawned?: Spawned; describe?: () => string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const detail = () => (opts.describe ? `\n${opts.describe()}` : "");
  for (;;) {
    if (opts.spawned?.hasExited()) {
      const { code, signal } = await opts.spawned.exited;
      throw new Error(`${what}: the process exited (${signal ?? `code ${code}`})${detail()}`);
    }
    if (await check()) return;
    if (Date.now() >= deadline)
      throw new Error(`${what}: not within ${opts.timeoutMs} ms${detail()}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

/** A port that was free on `host` a moment ago (bind :0, read, release). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Whether `port` can be bound on `host` right now. */
export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The last `lines` lines of a text file ("" when missing), for error messages. */
export function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
