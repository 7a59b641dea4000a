/**
 * What a load test runs against: a local stack of its own (the default), or a deployed Worker
 * (`--url`), and the tokens its users and its operator calls carry.
 *
 * The local stack is the one `npm start` runs, on free ports, in `.local/loadtest-<pid>/`, never
 * the developer's running stack: the local cloud (MariaDB, Redis and the HTTP gateway) as a child
 * process (`node local/cloud.ts`, so the gateway never shares an event loop with the load), and
 * `workerd serve` with the bundle as two services, with every binding `npm start` passes except
 * the secrets, which are random per run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { sign } from "hono/jwt";
import { freePort } from "../local/servers/process.ts";
import type { StackFile } from "../local/stack-types.ts";
import { bundleWorker, type RunningWorker, type Runtime, startWorker } from "../local/worker.ts";
import { workerBindings } from "../local/worker-bindings.ts";

export const ROOT = resolve(import.meta.dirname, "..");
const HOST = "127.0.0.1";

export interface User {
  id: string;
  token: string;
}

export interface LocalStack {
  /** What `.local/stack.json` would hold for this stack (also written to the run's folder). */
  stack: StackFile;
  dir: string;
  /** Every workerd process: the objects' and the fronts' (one with FRONTS=0). */
  workerdPids: number[];
  /** The cloud's processes (its Node process, mariadbd, redis-server), for CPU accounting. */
  cloudPids: number[];
}

export interface Target {
  baseUrl: string;
  adminToken: string;
  /** Users for this run: minted with the JWT secret, or read from a token file. */
  users(count: number, prefix: string): Promise<User[]>;
  local?: LocalStack;
  stop(): Promise<void>;
}

/** HS256 tokens (1 h) for `count` new users, as `sign` from hono/jwt makes them. */
export async function mintUsers(secret: string, count: number, prefix: string): Promise<User[]> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const now = Math.floor(Date.now() / 1000);
  const out: User[] = [];
  for (let done = 0; done < count; ) {
    const batch = Math.min(5_000, count - done);
    const made = await Promise.all(
      Array.from({ length: batch }, async (_, i) => {
        const id = `${prefix}-${done + i}`;
        return { id, token: await sign({ sub: id, iat: now, exp: now + 3_600 }, key, "HS256") };
      }),
    );
    out.push(...made);
    done += batch;
  }
  return out;
}

/** Tokens from a file, one JWT a line; the user id is each token's `sub`. */
export function usersFromFile(file: string): User[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((token) => {
      const payload = token.split(".")[1];
      const sub = payload
        ? (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sub?: unknown }).sub
        : undefined;
      if (typeof sub !== "string") throw new Error(`${file}: a line is not a JWT with a sub`);
      return { id: sub, token };
    });
}

export interface RemoteOptions {
  url: string;
  adminToken?: string;
  jwtSecret?: string;
  tokenFile?: string;
}

/** A deployed Worker: nothing to start; tokens from the options. */
export function remoteTarget(o: RemoteOptions): Target {
  if (!o.adminToken) {
    throw new Error("--url needs the operator token: --admin-token or LOADTEST_ADMIN_TOKEN");
  }
  if (!o.jwtSecret && !o.tokenFile) {
    throw new Error(
      "--url needs user tokens: --jwt-secret (or LOADTEST_JWT_SECRET) for HS256, or --token-file",
    );
  }
  const fromFile = o.tokenFile ? usersFromFile(o.tokenFile) : undefined;
  let used = 0;
  return {
    baseUrl: o.url.replace(/\/+$/, ""),
    adminToken: o.adminToken,
    async users(count, prefix) {
      if (fromFile) {
        if (used + count > fromFile.length) {
          throw new Error(
            `the token file holds ${fromFile.length} tokens; this run needs ${used + count}`,
          );
        }
        const out = fromFile.slice(used, used + count);
        used += count;
        return out;
      }
      return mintUsers(o.jwtSecret as string, count, prefix);
    },
    stop: async () => undefined,
  };
}

/**
 * Starts the local cloud (child process) and workerd (`runtime`: the current release, or `pre`,
 * the last one before the HTTP front end's regression, see ARCHITECTURE.md); `log` receives
 * progress lines.
 */
export async function localTarget(
  log: (line: string) => void,
  runtime: Runtime = "current",
): Promise<Target> {
  const dir = join(ROOT, ".local", `loadtest-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const secret = `lt-jwt-${crypto.randomUUID()}-${crypto.randomUUID()}`;
  const admin = `lt-admin-${crypto.randomUUID()}`;
  const t0 = performance.now();
  let cloud: CloudProcess | undefined;
  let worker: RunningWorker | undefined;
  const stop = async () => {
    await worker?.stop().catch((err: unknown) => log(`stopping workerd: ${String(err)}`));
    await cloud?.stop().catch((err: unknown) => log(`stopping the local cloud: ${String(err)}`));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [c, bundle] = await Promise.all([
      startCloudProcess(join(dir, "cloud")),
      bundleWorker(join(dir, "build")),
    ]);
    cloud = c;
    worker = await startWorker({
      dir: join(dir, "worker"),
      bundle,
      host: HOST,
      port: await freePort(HOST),
      bindings: {
        JWT_SECRET: secret,
        ADMIN_TOKEN: admin,
        ...workerBindings(c.stack),
        // The report holds every answer; a crowd's 429/503 lines (one each even with the tallied
        // default) would bury it in this terminal. REQUEST_LOG=on|all here brings them back.
        REQUEST_LOG: process.env.REQUEST_LOG ?? "off",
      },
      runtime,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const stack: StackFile = { worker: worker.url, ...cloud.stack };
  writeFileSync(join(dir, "stack.json"), `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
  log(
    `local stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${worker.url} (workerd: objects pid ${worker.pid}, fronts ${worker.frontPids.join(", ") || "in the same process"}), in ${dir}`,
  );
  return {
    baseUrl: worker.url,
    adminToken: admin,
    users: (count, prefix) => mintUsers(secret, count, prefix),
    local: { stack, dir, workerdPids: [worker.pid, ...worker.frontPids], cloudPids: cloud.pids },
    stop,
  };
}

interface CloudProcess {
  stack: StackFile;
  pids: number[];
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) if (child.exitCode === null) child.kill("SIGTERM");
});

/**
 * `node local/cloud.ts --root <dir>`: it prints its endpoints as JSON once everything is up,
 * and stops its servers on SIGTERM.
 */
function startCloudProcess(root: string): Promise<CloudProcess> {
  const child = spawn(process.execPath, [join(ROOT, "local", "cloud.ts"), "--root", root], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  void exited.then(() => running.delete(child));
  let out = "";
  let err = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killed = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(killed);
  };
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      void stop();
      fail(new Error(`the local cloud did not start within 120 s\n${err}`));
    }, 120_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      try {
        const parsed = JSON.parse(out) as StackFile & {
          processes: { mariadbd: { pid: number }; redis: { pid: number } };
        };
        clearTimeout(timer);
        const { processes, ...stack } = parsed;
        done({
          stack,
          pids: [child.pid as number, processes.mariadbd.pid, processes.redis.pid],
          stop,
        });
      } catch {
        // not complete yet
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`the local cloud exited (${code}) before it was up\n${err}`));
    });
  });
}
