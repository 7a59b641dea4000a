/** workerd's V8 inspector (Chrome DevTools protocol), for the profile and the soak. */
import { join, resolve } from "node:path";
import { startLocalCloud } from "../local/cloud.ts";
import { freePort } from "../local/servers/process.ts";
import { bundleWorker, type RunningWorker, startWorker } from "../local/worker.ts";
import { workerBindings } from "../local/worker-bindings.ts";

export interface InspectedStack {
  worker: RunningWorker;
  /** The random secrets of this run. */
  secrets: { JWT_SECRET: string; ADMIN_TOKEN: string };
  inspectorPort: number;
  /** `.local/<name>-<pid>/`: the cloud's data, the bundle, the configs. */
  dir: string;
  /** Stops workerd and the local cloud (the folder stays: the caller decides). */
  stop(): Promise<void>;
}

/**
 * The stack `npm start` runs (FRONTS as there), with random secrets and workerd's inspector on,
 * in `.local/<name>-<pid>/`: what the profile and the soak measure. `bindings` add to (or
 * override) the ones `npm start` passes.
 */
export async function startInspectedStack(
  name: string,
  bindings: Record<string, string> = {},
): Promise<InspectedStack> {
  const dir = join(resolve(import.meta.dirname, ".."), ".local", `${name}-${process.pid}`);
  const [cloud, bundle] = await Promise.all([
    startLocalCloud({ root: join(dir, "cloud") }),
    bundleWorker(join(dir, "build")),
  ]);
  const secrets = {
    JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
    ADMIN_TOKEN: crypto.randomUUID(),
  };
  const inspectorPort = await freePort();
  let worker: RunningWorker;
  try {
    worker = await startWorker({
      dir: join(dir, "worker"),
      bundle,
      host: "127.0.0.1",
      port: await freePort(),
      inspectorPort,
      bindings: { ...secrets, ...workerBindings(cloud), ...bindings },
    });
  } catch (err) {
    await cloud.stop();
    throw err;
  }
  return {
    worker,
    secrets,
    inspectorPort,
    dir,
    stop: async () => {
      await worker.stop();
      await cloud.stop();
    },
  };
}

export interface InspectorSession {
  send(method: string, params?: object): Promise<unknown>;
  close(): void;
}

const SEND_TIMEOUT_MS = 30_000;

/** One Chrome DevTools protocol session over the inspector's WebSocket. */
export async function session(url: string): Promise<InspectorSession> {
  const ws = new WebSocket(url);
  await new Promise((done, fail) => {
    ws.addEventListener("open", done, { once: true });
    ws.addEventListener("error", fail, { once: true });
  });
  let next = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.addEventListener("message", (e) => {
    const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
    if (msg.id === undefined) return;
    waiting.get(msg.id)?.(msg.result);
    waiting.delete(msg.id);
  });
  // An isolate that never answers (gone, or stuck) fails the call instead of hanging the script.
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((done, fail) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        fail(new Error(`inspector: no answer to ${method} in ${SEND_TIMEOUT_MS} ms (${url})`));
      }, SEND_TIMEOUT_MS);
      waiting.set(id, (result) => {
        clearTimeout(timer);
        done(result);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/**
 * A session per isolate of each process: `startWorker({ inspectorPort })` puts the first front's
 * inspector on that port and, when the layout is split (fronts > 0), the objects' on the next.
 */
export async function isolateSessions(
  inspectorPort: number,
  fronts: number,
): Promise<{ title: string; process: string; s: InspectorSession }[]> {
  const inspectors =
    fronts === 0
      ? [{ process: "workerd", port: inspectorPort }]
      : [
          { process: "front", port: inspectorPort },
          { process: "objects", port: inspectorPort + 1 },
        ];
  const found = await Promise.all(
    inspectors.map(async ({ process, port }) => {
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
        id: string;
        title: string;
        webSocketDebuggerUrl: string;
      }[];
      return Promise.all(
        targets.map(async (t) => ({
          title: `${process}-${t.title || t.id}`,
          process,
          s: await session(t.webSocketDebuggerUrl),
        })),
      );
    }),
  );
  return found.flat();
}
