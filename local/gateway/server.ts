/**
 * The local gateway: one Node HTTP server per API that stands in for a cloud service
 * (PlanetScale's HTTP API, Upstash Redis REST, Kafka over HTTP), each on 127.0.0.1 and its own
 * port, plus a control server that tests use to inject faults and to stop/start one API.
 *
 * The control port answers only requests that carry `Authorization: Bearer <token>`, the token
 * being random per start (`gatewayControl.token`, written to the stack file), and refuses every
 * request a browser could send: one with an `Origin` or `Sec-Fetch-Site` header is answered 403
 * before anything else, so a web page on this machine cannot drive it (no CORS, no preflight).
 * No token: 401; a wrong one: 403.
 *
 * Control routes:
 *   GET  /health                      → 200 { ok, apis: { <api>: { listening, port, faults, held } } }
 *                                       (held: requests a `hang` fault is holding right now)
 *   POST /faults/{api}                → body { mode?, rejectMatching? }: mutates that API's faults
 *                                       in place, answers 200 with them
 *   DELETE /faults                    → every API back to no faults
 *   POST /apis/{api}/stop             → closes that API's listener and its open connections
 *                                       (clients then get "connection refused")
 *   POST /apis/{api}/start            → listens again on the same port
 *   GET  /stats                       → 200 { <api>: { requests } }: HTTP requests each API has
 *                                       received since it started or since the last reset, those
 *                                       answered or held by an injected fault included
 *   POST /stats/reset                 → zeroes the counters, answers 200 with the zeroed stats
 * where {api} is planetscale | upstashRedis | kafka.
 *
 * Faults, applied before the API's handler sees a request: `error` answers 500
 * `{ "error": "injected fault" }`; `hang` holds the request without answering until the mode
 * changes or the API/gateway stops, and then destroys its connection (as a hung upstream that
 * finally drops does); `rejectMatching` is for the handlers themselves.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { GatewayApi, LocalCloud, MysqlEndpoint } from "../stack-types.ts";
import { type FaultMode, type Faults, noFaults } from "./faults.ts";
import {
  bearerToken,
  closeServer,
  errorMessage,
  handleAsync,
  header,
  listen,
  type RequestHandler,
  readJson,
  safeEqual,
  sendJson,
} from "./http.ts";
import { createKafkaGateway } from "./kafka.ts";
import { createPlanetscaleGateway } from "./planetscale.ts";
import { createUpstashRedisGateway } from "./upstash-redis.ts";

export interface ApiHandler {
  handle: RequestHandler;
  close(): Promise<void>;
}

/** What `GET /stats` answers: per API, the HTTP requests received since the last reset. */
export type GatewayStats = Record<GatewayApi, { requests: number }>;

export const GATEWAY_APIS: readonly GatewayApi[] = ["planetscale", "upstashRedis", "kafka"];

export interface GatewayOptions {
  /** The MariaDB behind the PlanetScale stand-in. */
  mysql: MysqlEndpoint;
  /** The redis-server behind the Upstash Redis and Kafka stand-ins. */
  redisUrl: string;
  planetscale: { username: string; password: string };
  upstashRedis: { token: string };
  kafka: { username: string; password: string };
  /** 0 or absent: an ephemeral port. */
  ports?: Partial<Record<GatewayApi | "control", number>>;
  /** The control port's bearer token; absent: a random one (the normal case, one per start). */
  controlToken?: string;
  /** Tests only: replace an API's handler (e.g. with a stub). */
  handlers?: Partial<Record<GatewayApi, (faults: Faults) => ApiHandler>>;
}

export type GatewayEndpoints = Pick<
  LocalCloud,
  "planetscale" | "upstashRedis" | "kafka" | "gatewayControl"
>;

export interface Gateway extends GatewayEndpoints {
  /** The live fault settings per API (the same objects the handlers read). */
  faults: Record<GatewayApi, Faults>;
  ports: Record<GatewayApi | "control", number>;
  stopApi(api: GatewayApi): Promise<void>;
  startApi(api: GatewayApi): Promise<void>;
  /** Closes every listener, destroys open connections, closes the handlers. Idempotent. */
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const FAULT_MODES: readonly FaultMode[] = ["none", "error", "hang"];

interface Held {
  req: IncomingMessage;
  res: ServerResponse;
}

/** One API: its handler, its faults, and a listener that can be stopped and started again. */
class ApiListener {
  readonly api: GatewayApi;
  readonly faults: Faults;
  readonly handler: ApiHandler;
  port: number;
  /** HTTP requests received (whatever answered them) since the last reset. */
  requests = 0;
  private server: Server | undefined;
  private readonly held = new Set<Held>();
  private heldTimer: NodeJS.Timeout | undefined;

  constructor(api: GatewayApi, faults: Faults, handler: ApiHandler, port: number) {
    this.api = api;
    this.faults = faults;
    this.handler = handler;
    this.port = port;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Requests currently held by a `hang` fault. */
  get heldCount(): number {
    return this.held.size;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.dispatch(req, res));
    server.keepAliveTimeout = 65_000;
    await listen(server, HOST, this.port);
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.dropHeld();
    await closeServer(server);
  }

  /** Called when the faults may have changed: held requests are dropped once `hang` is over. */
  faultsChanged(): void {
    if (this.faults.mode !== "hang") this.dropHeld();
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    switch (this.faults.mode) {
      case "error":
        req.resume();
        sendJson(res, 500, { error: "injected fault" });
        return;
      case "hang":
        this.hold(req, res);
        return;
      default:
        try {
          this.handler.handle(req, res);
        } catch (err) {
          if (!res.headersSent) sendJson(res, 500, { error: errorMessage(err) });
          else res.destroy();
        }
    }
  }

  private hold(req: IncomingMessage, res: ServerResponse): void {
    const entry: Held = { req, res };
    this.held.add(entry);
    req.resume();
    res.once("close", () => this.held.delete(entry));
    // The faults object may also be mutated in place (not via the control port): notice that too.
    this.heldTimer ??= setInterval(() => {
      if (this.faults.mode !== "hang" || this.held.size === 0) this.dropHeld();
    }, 100);
  }

  private dropHeld(): void {
    for (const { req } of this.held) req.socket.destroy();
    this.held.clear();
    clearInterval(this.heldTimer);
    this.heldTimer = undefined;
  }
}

/** Validates a `POST /faults/{api}` body; returns an error message or the changes. */
function parseFaultsBody(body: unknown): string | Partial<Faults> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return "body must be a JSON object { mode?, rejectMatching? }";
  }
  const { mode, rejectMatching, ...rest } = body as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length > 0) return `unknown field(s): ${unknownKeys.join(", ")}`;
  const changes: Partial<Faults> = {};
  if (mode !== undefined) {
    if (!FAULT_MODES.includes(mode as FaultMode))
      return `mode must be one of ${FAULT_MODES.join(", ")}`;
    changes.mode = mode as FaultMode;
  }
  if (rejectMatching !== undefined) {
    if (!Array.isArray(rejectMatching) || !rejectMatching.every((s) => typeof s === "string")) {
      return "rejectMatching must be an array of strings";
    }
    changes.rejectMatching = rejectMatching as string[];
  }
  return changes;
}

/**
 * Why a control request is refused (status and message), or null when it may go on. Browser
 * requests first, whatever their credentials: a page must not even learn whether a token works.
 */
function controlRefusal(req: IncomingMessage, token: string): [401 | 403, string] | null {
  if (header(req, "origin") !== undefined || header(req, "sec-fetch-site") !== undefined) {
    return [403, "requests from a browser (Origin or Sec-Fetch-Site header) are refused"];
  }
  const given = bearerToken(req);
  if (given === undefined) return [401, "Authorization: Bearer <gatewayControl.token> required"];
  if (!safeEqual(given, token)) return [403, "wrong control token"];
  return null;
}

function isApi(name: string | undefined): name is GatewayApi {
  return name !== undefined && (GATEWAY_APIS as readonly string[]).includes(name);
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const controlToken = opts.controlToken ?? randomBytes(32).toString("base64url");
  const faults: Record<GatewayApi, Faults> = {
    planetscale: noFaults(),
    upstashRedis: noFaults(),
    kafka: noFaults(),
  };
  const create: Record<GatewayApi, (f: Faults) => ApiHandler> = {
    planetscale: (f) =>
      createPlanetscaleGateway({
        mysql: opts.mysql,
        username: opts.planetscale.username,
        password: opts.planetscale.password,
        faults: f,
      }),
    upstashRedis: (f) =>
      createUpstashRedisGateway({
        redisUrl: opts.redisUrl,
        token: opts.upstashRedis.token,
        faults: f,
      }),
    kafka: (f) =>
      createKafkaGateway({
        redisUrl: opts.redisUrl,
        username: opts.kafka.username,
        password: opts.kafka.password,
        faults: f,
      }),
    ...opts.handlers,
  };

  const listeners = new Map<GatewayApi, ApiListener>();
  let control: Server | undefined;
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (control) await closeServer(control);
      await Promise.all([...listeners.values()].map((l) => l.stop()));
      const results = await Promise.allSettled(
        [...listeners.values()].map((l) => l.handler.close()),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    })();
    return stopping;
  };

  try {
    for (const api of GATEWAY_APIS) {
      const listener = new ApiListener(
        api,
        faults[api],
        create[api](faults[api]),
        opts.ports?.[api] ?? 0,
      );
      listeners.set(api, listener);
      await listener.start();
    }
    control = createServer(
      handleAsync(handleControl, (res, err) => sendJson(res, 500, { error: errorMessage(err) })),
    );
    await listen(control, HOST, opts.ports?.control ?? 0);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  const controlPort = (control.address() as AddressInfo).port;

  const get = (api: GatewayApi): ApiListener => listeners.get(api) as ApiListener;
  const status = () =>
    Object.fromEntries(
      GATEWAY_APIS.map((api) => {
        const l = get(api);
        return [api, { listening: l.listening, port: l.port, faults: l.faults, held: l.heldCount }];
      }),
    );
  const stats = (): GatewayStats => ({
    planetscale: { requests: get("planetscale").requests },
    upstashRedis: { requests: get("upstashRedis").requests },
    kafka: { requests: get("kafka").requests },
  });

  async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://control").pathname;
    const parts = path.split("/").filter((p) => p.length > 0);
    const method = req.method ?? "GET";

    const refusal = controlRefusal(req, controlToken);
    if (refusal) {
      req.resume();
      const [status, error] = refusal;
      const headers: Record<string, string> =
        status === 401 ? { "www-authenticate": 'Bearer realm="gateway-control"' } : {};
      return sendJson(res, status, { error }, { headers });
    }

    if (method === "GET" && path === "/health") {
      sendJson(res, 200, { ok: true, apis: status() });
      return;
    }
    if (method === "DELETE" && path === "/faults") {
      for (const api of GATEWAY_APIS) {
        Object.assign(faults[api], noFaults());
        get(api).faultsChanged();
      }
      sendJson(res, 200, { apis: status() });
      return;
    }
    if (parts[0] === "faults" && parts.length === 2) {
      const api = parts[1];
      if (!isApi(api)) return sendJson(res, 404, { error: `unknown api ${api}` });
      if (method !== "POST") return sendJson(res, 405, { error: "use POST" });
      let body: unknown;
      try {
        body = await readJson(req, 1 << 20, () => new Error("body too large"));
      } catch (err) {
        return sendJson(res, 400, { error: `invalid JSON body: ${errorMessage(err)}` });
      }
      const changes = parseFaultsBody(body);
      if (typeof changes === "string") return sendJson(res, 400, { error: changes });
      Object.assign(faults[api], changes);
      get(api).faultsChanged();
      sendJson(res, 200, faults[api]);
      return;
    }
    if (
      parts[0] === "apis" &&
      parts.length === 3 &&
      (parts[2] === "stop" || parts[2] === "start")
    ) {
      const api = parts[1];
      if (!isApi(api)) return sendJson(res, 404, { error: `unknown api ${api}` });
      if (method !== "POST") return sendJson(res, 405, { error: "use POST" });
      req.resume();
      const listener = get(api);
      if (parts[2] === "stop") await listener.stop();
      else await listener.start();
      sendJson(res, 200, { api, listening: listener.listening, port: listener.port });
      return;
    }
    if (path === "/stats" || path === "/stats/reset") {
      req.resume();
      const reset = path === "/stats/reset";
      if (method !== (reset ? "POST" : "GET")) {
        return sendJson(res, 405, { error: `use ${reset ? "POST" : "GET"}` });
      }
      if (reset) for (const api of GATEWAY_APIS) get(api).requests = 0;
      sendJson(res, 200, stats());
      return;
    }
    req.resume();
    sendJson(res, 404, { error: `no route ${method} ${path}` });
  }

  const base = (api: GatewayApi) => `http://${HOST}:${get(api).port}`;
  const ps = opts.planetscale;
  return {
    planetscale: {
      url: `http://${encodeURIComponent(ps.username)}:${encodeURIComponent(ps.password)}@${HOST}:${get("planetscale").port}`,
      host: `${HOST}:${get("planetscale").port}`,
      username: ps.username,
      password: ps.password,
    },
    upstashRedis: { url: base("upstashRedis"), token: opts.upstashRedis.token },
    kafka: { url: base("kafka"), username: opts.kafka.username, password: opts.kafka.password },
    gatewayControl: { url: `http://${HOST}:${controlPort}`, token: controlToken },
    faults,
    ports: {
      planetscale: get("planetscale").port,
      upstashRedis: get("upstashRedis").port,
      kafka: get("kafka").port,
      control: controlPort,
    },
    stopApi: (api) => get(api).stop(),
    startApi: (api) => get(api).start(),
    stop,
  };
}
