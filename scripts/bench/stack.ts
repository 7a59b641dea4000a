/**
 * The stack under load, exactly as `npm start` runs it (the local cloud and `workerd serve` with
 * the bundle, plus the bare Worker as the ceiling), and the load thread that drives it. One `Rig`
 * per benchmark: the scenarios mint tokens, run loads and call the API through it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalCloud } from "../../local/cloud.ts";
import { freePort } from "../../local/servers/process.ts";
import { bundleWorker, type RunningWorker, startWorker } from "../../local/worker.ts";
import { workerBindings } from "../../local/worker-bindings.ts";
import type { LoadRequest, LoadSummary } from "../bench-load.ts";
import { cpuTicks, machineTicks } from "../bench-load.ts";
import { LoadThread } from "./load-thread.ts";
import { log, sleep } from "./log.ts";

const HOST = "127.0.0.1";

interface Stack {
  worker: RunningWorker;
  bareUrl: string;
  /** mariadbd, redis-server and this process (the gateway and the load thread). */
  stackPids: number[];
  stop(): Promise<void>;
}

async function startStack(
  dir: string,
  runtime: "current" | "pre",
  fronts: number,
  secrets: { JWT_SECRET: string; ADMIN_TOKEN: string },
): Promise<Stack> {
  const t0 = performance.now();
  const [cloud, bundle] = await Promise.all([
    startLocalCloud({ root: join(dir, "cloud") }),
    bundleWorker(join(dir, "build")),
  ]);
  let worker: RunningWorker;
  try {
    worker = await startWorker({
      dir: join(dir, "worker"),
      bundle,
      host: HOST,
      port: await freePort(HOST),
      bareWorkerPort: await freePort(HOST),
      runtime,
      fronts,
      // Random secrets for this run; every other binding exactly as `npm start` passes it.
      bindings: { ...secrets, ...workerBindings(cloud) },
    });
  } catch (err) {
    await cloud.stop();
    throw err;
  }
  log(
    `stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${worker.url} (workerd pid ${worker.pid}), bare ${worker.bareUrl}`,
  );
  return {
    worker,
    bareUrl: worker.bareUrl as string,
    stackPids: [process.pid, cloud.processes.mariadbd.pid, cloud.processes.redis.pid],
    stop: async () => {
      await worker.stop();
      await cloud.stop();
    },
  };
}

export class Rig {
  readonly runId = Date.now().toString(36);
  /** This run's random JWT secret (the load thread signs user tokens with it) and admin token. */
  readonly secret: string;
  readonly admin: string;
  private readonly stack: Stack;
  private readonly tempDir: string;
  private loadThreads = 0;
  private load: LoadThread;

  private constructor(stack: Stack, tempDir: string, secret: string, admin: string) {
    this.stack = stack;
    this.tempDir = tempDir;
    this.secret = secret;
    this.admin = admin;
    this.load = this.newLoadThread();
  }

  /** Starts the stack in a temporary folder (removed by `stop`) and the load thread. */
  static async start(runtime: "current" | "pre", fronts: number): Promise<Rig> {
    const dir = mkdtempSync(join(tmpdir(), "coupon-bench-"));
    const secret = `bench-jwt-${crypto.randomUUID()}-${crypto.randomUUID()}`;
    const admin = `bench-admin-${crypto.randomUUID()}`;
    try {
      const stack = await startStack(dir, runtime, fronts, {
        JWT_SECRET: secret,
        ADMIN_TOKEN: admin,
      });
      return new Rig(stack, dir, secret, admin);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get url(): string {
    return this.stack.worker.url;
  }

  get bareUrl(): string {
    return this.stack.bareUrl;
  }

  private newLoadThread(): LoadThread {
    return new LoadThread({
      secret: this.secret,
      userPrefix: `bench-${this.runId}-${++this.loadThreads}`,
      objectsPid: this.stack.worker.pid,
      frontPids: this.stack.worker.frontPids,
      stackPids: this.stack.stackPids,
    });
  }

  /** Makes sure the load thread holds at least `count` unused user tokens. */
  async mint(count: number): Promise<void> {
    const r = await this.load.call({ type: "mint", count }, 300_000);
    if (r.type === "failed") throw new Error(`minting tokens: ${r.error}`);
  }

  async runLoad(req: LoadRequest, timeoutMs: number): Promise<LoadSummary> {
    try {
      const r = await this.load.call(req, timeoutMs);
      if (r.type === "failed") throw new Error(r.error);
      if (r.type !== "summary") throw new Error(`unexpected answer ${r.type}`);
      return r.summary;
    } catch (err) {
      // A stuck or crashed load thread is replaced, so the next scenario starts clean.
      await this.load.terminate().catch(() => undefined);
      this.load = this.newLoadThread();
      throw err;
    }
  }

  /** The service's API, from the main thread, outside the timed part. */
  api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
  }

  /**
   * Waits until workerd is idle (under 4% of a core) and nothing else is busy (other processes
   * under 10% of a core) over half a second, at most `patienceMs`; then measures anyway.
   */
  async untilQuiet(clkTck: number, patienceMs: number): Promise<void> {
    const s = this.stack;
    const deadline = Date.now() + patienceMs;
    const windowMs = 500;
    const tick = (share: number) => (clkTck * windowMs * share) / 1000;
    const stackTicks = () =>
      s.stackPids.reduce((sum, pid) => {
        try {
          return sum + cpuTicks(pid);
        } catch {
          return sum;
        }
      }, 0);
    const workerdTicks = () =>
      [s.worker.pid, ...s.worker.frontPids].reduce((sum, pid) => sum + cpuTicks(pid), 0);
    for (;;) {
      const w0 = workerdTicks();
      const s0 = stackTicks();
      const m0 = machineTicks();
      await sleep(windowMs);
      const workerd = workerdTicks() - w0;
      const others = machineTicks() - m0 - workerd - (stackTicks() - s0);
      if (workerd <= tick(0.04) && others <= tick(0.1)) return;
      if (Date.now() > deadline) {
        log(
          `  (not quiet after ${patienceMs / 1000} s: workerd ${Math.round((100 * workerd) / tick(1))}%, other processes ${Math.round((100 * others) / tick(1))}% of a core; measuring anyway)`,
        );
        return;
      }
    }
  }

  /** Stops the load thread and the stack, and removes the temporary folder. */
  async stop(): Promise<void> {
    await this.load.terminate().catch(() => undefined);
    await this.stack.stop().catch((err: unknown) => console.error("stopping the stack:", err));
    rmSync(this.tempDir, { recursive: true, force: true });
  }
}
