import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { copyDocsAssets } from "../scripts/docs-assets.ts";
import { stopPid, waitFor } from "./servers/process.ts";

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
  await run(process.execPath, [WRANGLER, "deploy", "--dry-run", "--outdir", outDir], {
    WRANGLER_SEND_METRICS: "false",
  });
  // wrangler names the bundle after `main` (worker.ts).
  return join(outDir, "worker.js");
}

export interface WorkerOptions {
  /** Where the config and the Durable Objects' SQLite files live. */
  dir: string;
  bundle: string;
  host: string;
  port: number;
  /** Plain-text bindings (vars and secrets), passed through the environment, never a file. */
  bindings: Record<string, string>;
  /**
   * Benchmarks only: also serve a bare Worker of one line (`new Response("ok")`) from this same
   * workerd process, on its own socket at this port: the ceiling the app is compared with.
   */
  bareWorkerPort?: number;
  /** Profiling only: workerd's V8 inspector (Chrome DevTools protocol) on this port. */
  inspectorPort?: number;
  /** Benchmarks only: which workerd release serves it (default the current one). */
  runtime?: Runtime;
}

export interface RunningWorker {
  url: string;
  /** The bare Worker's URL when `bareWorkerPort` was given. */
  bareUrl?: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Serves the bundle with `workerd serve`, as two services like on Cloudflare: the front Worker,
 * and the Durable Objects in an isolate of their own (one isolate for both starved requests
 * under load; see ARCHITECTURE.md). `wrangler dev` stays available as `npm run dev`.
 */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  mkdirSync(join(opts.dir, "objects"), { recursive: true });
  const config = join(opts.dir, "workerd.capnp");
  writeFileSync(config, capnpConfig(opts));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(opts.bindings)) env[`BINDING_${name}`] = value;
  const inspector =
    opts.inspectorPort === undefined ? [] : [`--inspector-addr=127.0.0.1:${opts.inspectorPort}`];
  const child = spawn(
    RUNTIMES[opts.runtime ?? "current"].bin,
    ["serve", config, "--experimental", ...inspector],
    {
      env,
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once("exit", (code, signal) => done({ code, signal })),
  );
  const pid = child.pid ?? -1;
  const spawned = {
    child,
    pid,
    exited,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
  };
  const url = `http://${opts.host}:${opts.port}`;
  const bareUrl =
    opts.bareWorkerPort === undefined ? undefined : `http://${opts.host}:${opts.bareWorkerPort}`;
  const answersAt = (target: string) =>
    fetch(target, { signal: AbortSignal.timeout(1_000) }).then(
      async (res) => {
        await res.body?.cancel();
        return true;
      },
      () => false,
    );
  const answers = async () =>
    (await answersAt(`${url}/health`)) && (bareUrl === undefined || (await answersAt(bareUrl)));
  try {
    await waitFor(`workerd on ${opts.host}:${opts.port}`, answers, {
      timeoutMs: 30_000,
      intervalMs: 100,
      spawned,
    });
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return { url, bareUrl, pid, stop: () => stopPid(pid, { timeoutMs: 5_000, exited }) };
}

function capnpConfig(opts: WorkerOptions): string {
  // capnp resolves `embed` paths relative to the config file; absolute ones are not filesystem paths.
  const bundle = relative(resolve(opts.dir), resolve(opts.bundle));
  const texts = Object.keys(opts.bindings)
    .map((name) => `(name = "${name}", fromEnvironment = "BINDING_${name}")`)
    .join(",\n    ");
  // The objects live in the "objects" service; the front reaches them there, as on Cloudflare.
  const ns = (className: string, inFront: boolean) =>
    `(className = "${className}"${inFront ? ', serviceName = "objects"' : ""})`;
  const worker = (inFront: boolean, extra: string) => `(
  modules = [(name = "index.js", esModule = embed "${bundle}")],
  compatibilityDate = "${RUNTIMES[opts.runtime ?? "current"].compatibilityDate}",
  bindings = [
    ${texts},
    (name = "COUPON_EVENT", durableObjectNamespace = ${ns("CouponEvent", inFront)}),
    (name = "EVENT_DIRECTORY", durableObjectNamespace = ${ns("EventDirectory", inFront)}),${inFront ? ASSETS_BINDING : ""}
  ],
  globalOutbound = "internet",${extra}
)`;
  const bare = opts.bareWorkerPort !== undefined;
  const bareService = bare ? `\n    (name = "bare", worker = .bare),` : "";
  const bareSocket = bare
    ? `,\n    (name = "bare-http", address = "${opts.host}:${opts.bareWorkerPort}", http = (), service = "bare")`
    : "";
  const bareWorker = bare
    ? `
const bare :Workerd.Worker = (
  modules = [(name = "bare.js", esModule = "${BARE_WORKER}")],
  compatibilityDate = "${RUNTIMES[opts.runtime ?? "current"].compatibilityDate}",
);
`
    : "";
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "front", worker = .front),
    (name = "objects", worker = .objects),${bareService}
    (name = "object-storage", disk = (path = "${resolve(opts.dir, "objects")}", writable = true)),
    (name = "assets", disk = (path = "${ASSETS}")),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
    (name = "http", address = "${opts.host}:${opts.port}", http = (), service = "front")${bareSocket}
  ],
);

const front :Workerd.Worker = ${worker(true, "")};

const objects :Workerd.Worker = ${worker(
    false,
    `
  durableObjectNamespaces = [
    (className = "CouponEvent", uniqueKey = "coupon-edge-CouponEvent", enableSql = true),
    (className = "EventDirectory", uniqueKey = "coupon-edge-EventDirectory", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "object-storage"),`,
  )};
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
