/**
 * What the split-layout tests share: the bundled Worker as `npm start` runs it (the event objects
 * in one workerd process, two fronts in others sharing the public port), against the test run's
 * local cloud, started before the file's tests and stopped after them; and a JSON caller for it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { afterAll, beforeAll } from "vitest";
import { freePort } from "../../local/servers/process.ts";
import { bundleWorker, type RunningWorker, startWorker } from "../../local/worker.ts";
import { workerBindings } from "../../local/worker-bindings.ts";
import { getStack } from "../local-cloud/stack.ts";

const JWT_SECRET = "split-jwt-secret-0123456789abcdef-0123456789";
export const ADMIN = "split-admin-token-0123456789";

/** A user token for `sub`, valid for ten minutes. */
export const token = (sub: string) =>
  sign({ sub, exp: Math.floor(Date.now() / 1000) + 600 }, JWT_SECRET, "HS256");

export interface SplitWorker {
  /** The temporary folder: the worker's files are under its `worker/`. */
  dir: string;
  /** The running worker (read it once the file's `beforeAll` has run). */
  worker(): RunningWorker;
  call(
    method: string,
    path: string,
    auth: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>;
}

/** Starts the split worker for the test file, in a fresh folder named from `prefix`. */
export function useSplitWorker(prefix: string): SplitWorker {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let running: RunningWorker | undefined;
  beforeAll(async () => {
    running = await startWorker({
      dir: join(dir, "worker"),
      bundle: await bundleWorker(join(dir, "bundle")),
      host: "127.0.0.1",
      port: await freePort(),
      // Two fronts on one port: the split is exercised, not only its degenerate case.
      fronts: 2,
      bindings: {
        JWT_SECRET,
        ADMIN_TOKEN: ADMIN,
        REQUEST_LOG: "off",
        ...workerBindings(getStack()),
      },
    });
  }, 180_000);
  afterAll(async () => {
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const worker = () => {
    if (!running) throw new Error("the split worker has not started");
    return running;
  };
  return {
    dir,
    worker,
    async call(method, path, auth, body, headers = {}) {
      const res = await fetch(`${worker().url}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${auth}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return {
        status: res.status,
        headers: res.headers,
        body: (await res.json()) as Record<string, unknown>,
      };
    },
  };
}
