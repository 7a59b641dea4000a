import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { copyDocsAssets } from "./docs-assets.ts";
import { type Spawned, stopPid, waitFor } from "./servers/process.ts";

const ROOT = resolve(import.meta.dirname, "..");
/** The Workers Static Assets folder (`[assets] directory` in wrangler.toml). */
const ASSETS = join(ROOT, "public");
const WORKERD = join(ROOT, "node_modules", "workerd", "bin", "workerd");

/**
 * The workerd releases a benchmark can run on: the one wrangler brings, and the last release
 * before workerd's HTTP front end moved to Rust/hyper (1.20261014.1), which starves some requests
 * for seconds under a crowd (ARCHITECTURE.md). The older one needs an older compatibility date.
 */
export const RUNTIMES = {
  current: { bin: WORKERD, compatibilityDate: "2026-11-01" },
  pre: {
    bin: join(ROOT, "node_modules", "workerd-1.20261013.1", "bin", "workerd"),
    compatibilityDate: "2026-10-01",
  },
} as const;
export type Runtime = keyof typeof RUNTIMES;
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** Bundles the Worker exactly as `wrangler deploy` would, without uploading it. */
export async function bundleWorker(outDir: string): Promise<string> {
  copyDocsAssets();
  // `--env=`: the top-level configuration (what runs locally), said so that wrangler does not
  // warn about the staging and production environments beside it.
  await run(process.execPath, [WRANGLER, "deploy", "--dry-run", "--env=", "--outdir", outDir], {
    WRANGLER_SEND_METRICS: "false",
  });
  // wrangler names the bundle after `main` (worker.ts).
  return join(outDir, "worker.js");
}

export interface WorkerOptions {
  /** Where the configs and the Durable Objects' SQLite files live. */
  dir: string;
  bundle: string;
  host: string;
  port: number;
  /** Plain-text bindings (vars and secrets), passed through the environment, never a file. */
  bindings: Record<string, string>;
  /**
   * Front processes sharing the public port, apart from the objects' process (as on Cloudflare,
   * where fronts run everywhere and only each object is serial). 0: one process serves both (the
   * front and the objects as two services of one workerd). Default: `FRONTS`, else `frontsFor()`.
   */
  fronts?: number;
  /**
   * Benchmarks only: also serve a bare Worker of one line (`new Response("ok")`) on its own
   * socket at this port, from the process(es) that serve the front: the ceiling it is compared with.
   */
  bareWorkerPort?: number;
  /** Profiling only: workerd's V8 inspector (Chrome DevTools protocol) on this port (the first
   * front's; the objects' process gets the next port when the layout is split). */
  inspectorPort?: number;
  /** Benchmarks only: which workerd release serves it (default the current one). */
  runtime?: Runtime;
}

export interface RunningWorker {
  url: string;
  /** The bare Worker's URL when `bareWorkerPort` was given. */
  bareUrl?: string;
  /** The process that holds the Durable Objects (with FRONTS=0 the only one). */
  pid: number;
  /** The front processes (empty with FRONTS=0: the objects' process serves the front too). */
  frontPids: number[];
  /** Front processes sharing the public port (0: one process). */
  fronts: number;
  /**
   * Fault drills: kills the objects' process (SIGKILL, as a crash); it is restarted by itself on
   * the same RPC port and storage, and `objectsBack` resolves once it accepts calls again. Only
   * with fronts > 0.
   */
  crashObjects(): Promise<void>;
  objectsBack(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Fronts when nothing is said: one per core. The objects' process shares the cores: in a burst it
 * mostly waits (most answers are refusals the fronts give), and measured on 2 cores, 2 fronts
 * halved the burst's p95 against 1 while saturated claims/s stayed the same (BENCHMARKS.md).
 */
export function frontsFor(cores = availableParallelism()): number {
  return Math.max(1, cores);
}

/** `FRONTS` from the environment (a whole number ≥ 0), or the default for this machine. */
export function frontsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FRONTS;
  if (raw === undefined || raw === "") return frontsFor();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 64) {
    throw new Error(`FRONTS must be a whole number from 0 to 64 (got ${JSON.stringify(raw)})`);
  }
  return n;
}

interface Child {
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  spawned: Spawned;
  stop(): Promise<void>;
}

/**
 * Serves the bundle with `workerd serve`. Split (the default): one process holds the Durable
 * Objects and serves an RPC entrypoint (`ObjectsRpc`) over a Cap'n Proto socket; `fronts`
 * processes run the front Worker, share the public port (one listening socket handed to each with
 * `--socket-fd`) and reach the objects through that entrypoint. One process (`fronts: 0`): the
 * front and the objects as two services of one workerd, as before. `wrangler dev` stays
 * available as `npm run dev`.
 */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  mkdirSync(join(opts.dir, "objects"), { recursive: true });
  const fronts = opts.fronts ?? frontsFromEnv();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(opts.bindings)) env[`BINDING_${name}`] = value;
  const bin = RUNTIMES[opts.runtime ?? "current"].bin;
  const inspector = (port: number | undefined) =>
    port === undefined ? [] : [`--inspector-addr=127.0.0.1:${port}`];
  const url = `http://${opts.host}:${opts.port}`;
  const bareUrl =
    opts.bareWorkerPort === undefined ? undefined : `http://${opts.host}:${opts.bareWorkerPort}`;
  const answers = async () =>
    (await answersAt(`${url}/health`)) && (bareUrl === undefined || (await answersAt(bareUrl)));

  if (fronts === 0) {
    const config = join(opts.dir, "workerd.capnp");
    writeFileSync(config, capnpConfig(opts, { layout: "one" }));
    const one = spawnWorkerd(bin, [config, ...inspector(opts.inspectorPort)], env);
    await ready(`workerd on ${opts.host}:${opts.port}`, answers, one);
    const unsplit = async () => {
      throw new Error("crashObjects/objectsBack need the split layout (fronts > 0)");
    };
    return {
      url,
      bareUrl,
      pid: one.pid,
      frontPids: [],
      fronts,
      crashObjects: unsplit,
      objectsBack: unsplit,
      stop: () => one.stop(),
    };
  }

  const rpc = rpcSocket(opts.dir);
  const objectsConfig = join(opts.dir, "objects.capnp");
  writeFileSync(objectsConfig, capnpConfig(opts, { layout: "objects", rpc: rpc.address }));
  const frontConfig = join(opts.dir, "front.capnp");
  writeFileSync(frontConfig, capnpConfig(opts, { layout: "front", rpc: rpc.address }));
  const objectsInspector = opts.inspectorPort === undefined ? undefined : opts.inspectorPort + 1;
  const startObjects = async (): Promise<Child> => {
    // A crashed process leaves its socket file behind; the new one must bind it afresh.
    rmSync(rpc.path, { force: true });
    const child = spawnWorkerd(bin, [objectsConfig, ...inspector(objectsInspector)], env);
    await ready(`the objects' workerd (RPC on ${rpc.path})`, () => accepts(rpc.path), child);
    return child;
  };
  let objects = await startObjects();
  let stopping = false;
  // A crashed objects' process comes back by itself, as an object does on Cloudflare; the fronts
  // answer 503 `unavailable` meanwhile and reconnect on their next call.
  // A process stopped on purpose (SIGTERM, SIGINT, a clean exit: a stop of the whole process
  // group reaches the objects' workerd as soon as this process) is not restarted; a crash is.
  const supervise = (child: Child) => {
    void child.exited.then(async ({ code, signal }) => {
      const deliberate = code === 0 || signal === "SIGTERM" || signal === "SIGINT";
      if (stopping || child !== objects || deliberate) return;
      console.error(`the objects' workerd exited (${signal ?? `code ${code}`}); restarting it`);
      for (let attempt = 1; !stopping; attempt++) {
        try {
          const restarted = await startObjects();
          objects = restarted;
          // A stop that came while it was starting has already stopped the old one only.
          if (stopping) {
            await restarted.stop();
            return;
          }
          supervise(restarted);
          return;
        } catch (err) {
          console.error(`restarting the objects' workerd failed: ${String(err)}`);
          await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * attempt)));
        }
      }
    });
  };
  supervise(objects);
  const started: Child[] = [];
  try {
    // One listening socket, handed to every front: the kernel gives each connection to one of
    // them. Node only opens it; it closes its own copy once the fronts hold theirs.
    const listeners = [await listenOn(opts.host, opts.port)];
    if (opts.bareWorkerPort !== undefined)
      listeners.push(await listenOn(opts.host, opts.bareWorkerPort));
    try {
      for (let i = 0; i < fronts; i++) {
        const sockets = ["--socket-fd", "http=3"];
        if (listeners.length > 1) sockets.push("--socket-fd", "bare-http=4");
        started.push(
          spawnWorkerd(
            bin,
            [frontConfig, ...sockets, ...inspector(i === 0 ? opts.inspectorPort : undefined)],
            env,
            listeners.map(fdOf),
          ),
        );
      }
    } finally {
      for (const server of listeners) server.close();
    }
    for (const front of started) await ready(`a front's workerd on ${url}`, answers, front);
  } catch (err) {
    stopping = true;
    for (const child of [...started, objects]) await child.stop().catch(() => undefined);
    throw err;
  }
  return {
    url,
    bareUrl,
    get pid() {
      return objects.pid;
    },
    frontPids: started.map((c) => c.pid),
    fronts,
    crashObjects: async () => {
      const crashed = objects;
      process.kill(crashed.pid, "SIGKILL");
      await crashed.exited;
    },
    objectsBack: async () => {
      await waitFor("the objects' workerd back", () => accepts(rpc.path), {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
    },
    stop: async () => {
      stopping = true;
      await Promise.all([...started, objects].map((c) => c.stop()));
    },
  };
}

function spawnWorkerd(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  fds: number[] = [],
): Child {
  const child = spawn(bin, ["serve", ...args, "--experimental"], {
    env,
    stdio: ["ignore", "inherit", "inherit", ...fds],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once("exit", (code, signal) => done({ code, signal })),
  );
  const pid = child.pid ?? -1;
  return {
    pid,
    exited,
    spawned: {
      child,
      pid,
      exited,
      hasExited: () => child.exitCode !== null || child.signalCode !== null,
    },
    stop: () => stopPid(pid, { timeoutMs: 5_000, exited }),
  };
}

async function ready(what: string, check: () => Promise<boolean>, child: Child): Promise<void> {
  try {
    await waitFor(what, check, { timeoutMs: 30_000, intervalMs: 100, spawned: child.spawned });
  } catch (err) {
    process.kill(child.pid, "SIGKILL");
    throw err;
  }
}

function answersAt(target: string): Promise<boolean> {
  return fetch(target, { signal: AbortSignal.timeout(1_000) }).then(
    async (res) => {
      await res.body?.cancel();
      return true;
    },
    () => false,
  );
}

function accepts(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ path });
    socket.setTimeout(1_000);
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
    socket.once("timeout", () => {
      socket.destroy();
      done(false);
    });
  });
}

/** Unix sockets take paths of at most 107 bytes; longer folders get a short one of their own. */
const MAX_SOCKET_PATH = 100;

/**
 * Where the objects' process takes calls: a Unix socket in the stack's own folder, which only
 * this user can connect to (a TCP port on 127.0.0.1 would let any local user call the objects,
 * claims and operator actions included, past the front's checks).
 */
function rpcSocket(dir: string): { path: string; address: string } {
  let path = resolve(dir, "objects-rpc.sock");
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    path = join(mkdtempSync(join(tmpdir(), "coupons-rpc-")), "objects.sock");
  }
  return { path, address: `unix:${path}` };
}

function listenOn(host: string, port: number): Promise<Server> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen({ host, port, exclusive: true, backlog: 4096 }, () => done(server));
  });
}

/** The listening socket's descriptor, for a child's stdio (Node keeps it on the handle). */
function fdOf(server: Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new Error("no descriptor for the listening socket");
  return fd;
}

type Layout =
  | { layout: "one" }
  | { layout: "objects"; rpc: string }
  | { layout: "front"; rpc: string };

function capnpConfig(opts: WorkerOptions, at: Layout): string {
  // capnp resolves `embed` paths relative to the config file; absolute ones are not filesystem paths.
  const bundle = relative(resolve(opts.dir), resolve(opts.bundle));
  const compatibilityDate = RUNTIMES[opts.runtime ?? "current"].compatibilityDate;
  const texts = Object.keys(opts.bindings)
    .map((name) => `(name = "${name}", fromEnvironment = "BINDING_${name}")`)
    .join(",\n    ");
  // The objects live in the "objects" service; the front reaches them there, as on Cloudflare:
  // as namespaces of another service in one process, through the RPC entrypoint across processes.
  const namespaces = (inFront: boolean) => {
    const ns = (className: string) =>
      `(className = "${className}"${inFront ? ', serviceName = "objects"' : ""})`;
    return `
    (name = "COUPON_EVENT", durableObjectNamespace = ${ns("CouponEvent")}),
    (name = "EVENT_DIRECTORY", durableObjectNamespace = ${ns("EventDirectory")}),`;
  };
  const worker = (bindings: string, extra: string) => `(
  modules = [(name = "index.js", esModule = embed "${bundle}")],
  compatibilityDate = "${compatibilityDate}",
  bindings = [
    ${texts},${bindings}
  ],
  globalOutbound = "internet",${extra}
)`;
  const objectsWorker = worker(
    namespaces(false),
    `
  durableObjectNamespaces = [
    (className = "CouponEvent", uniqueKey = "coupon-edge-CouponEvent", enableSql = true),
    (className = "EventDirectory", uniqueKey = "coupon-edge-EventDirectory", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "object-storage"),`,
  );
  const bare = opts.bareWorkerPort !== undefined && at.layout !== "objects";
  const bareService = bare ? `\n    (name = "bare", worker = .bare),` : "";
  const bareSocket = bare
    ? `,\n    (name = "bare-http", address = "${opts.host}:${opts.bareWorkerPort}", http = (), service = "bare")`
    : "";
  const bareWorker = bare
    ? `
const bare :Workerd.Worker = (
  modules = [(name = "bare.js", esModule = "${BARE_WORKER}")],
  compatibilityDate = "${compatibilityDate}",
);
`
    : "";
  const storage = `
    (name = "object-storage", disk = (path = "${resolve(opts.dir, "objects")}", writable = true)),`;
  const common = `
    (name = "internet", network = (allow = ["public", "private", "local"])),`;
  const assets = `
    (name = "assets", disk = (path = "${ASSETS}")),`;
  const http = `(name = "http", address = "${opts.host}:${opts.port}", http = (), service = "front")`;
  if (at.layout === "objects") {
    return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "objects", worker = .objects),${storage}${common}
  ],
  sockets = [
    (name = "rpc", address = "${at.rpc}", http = (capnpConnectHost = "objects"),
     service = (name = "objects", entrypoint = "ObjectsRpc")),
  ],
);

const objects :Workerd.Worker = ${objectsWorker};
`;
  }
  if (at.layout === "front") {
    return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "front", worker = .front),${bareService}
    (name = "objects", external = (address = "${at.rpc}", http = (capnpConnectHost = "objects"))),${assets}${common}
  ],
  sockets = [
    ${http}${bareSocket}
  ],
);

const front :Workerd.Worker = ${worker(
      `
    (name = "OBJECTS", service = "objects"),${ASSETS_BINDING}`,
      "",
    )};
${bareWorker}`;
  }
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "front", worker = .front),
    (name = "objects", worker = .objects),${bareService}${storage}${assets}${common}
  ],
  sockets = [
    ${http}${bareSocket}
  ],
);

const front :Workerd.Worker = ${worker(`${namespaces(true)}${ASSETS_BINDING}`, "")};

const objects :Workerd.Worker = ${objectsWorker};
${bareWorker}`;
}

/** The front's ASSETS binding: the assets folder as a `disk` service, as Static Assets on Cloudflare. */
const ASSETS_BINDING = `
    (name = "ASSETS", service = "assets"),`;

/** The bare Worker's whole module, as a capnp string (no double quotes or backslashes inside). */
const BARE_WORKER = "export default { fetch() { return new Response('ok'); } };";

function run(cmd: string, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once("exit", (code) =>
      code === 0 ? done() : fail(new Error(`${cmd} ${args.join(" ")} exited ${code}\n${out}`)),
    );
  });
}
