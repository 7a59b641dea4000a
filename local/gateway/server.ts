/**
 * The local gateway: one Node HTTP server per API that stands in for a cloud service
 * (PlanetScale's HTTP API, Upstash Redis REST, Kafka over HTTP, Turnstile's siteverify), each on 127.0.0.1 and its own
 * port, plus a control server that tests use to inject faults and to stop/start one API.
 *
 * The control port answers only requests that carry `Authorization: Bearer <token>`, the token
 * being random per start (`gatewayControl.token`, written to the stack file), and refuses every
 * request a browser could send: one with an `Origin` or `Sec-Fetch-Site` header is answered 403
 * before anything else, so a web page on this machine cannot drive it (no CORS, no preflight).
 * No token: 401; a wrong one: 403. Every port (the stand-ins too) also refuses, with 403, a
 * request whose `Host` is not its own loopback address (DNS rebinding) and any browser request.
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
 * where {api} is planetscale | upstashRedis | kafka | turnstile.
 *
 * Faults, applied before the API's handler sees a request: `error` answers 500
 * `{ "error": "injected fault" }`; `hang` holds the request without answering until the mode
 * changes or the API/gateway stops, and then destroys its connection (as a hung upstream that
 * finally drops does); `rejectMatching` is for the handlers themselves.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { GatewayApi, LocalCloud, MysqlEndpoint } from "../stack-types.ts";
import { type Faults, noFaults } from "./faults.ts";
import {
  bearerToken,
  closeServer,
  foreignRequest,
  listen,
  type RequestHandler,
  safeEqual,
  sendJson,
} from "./http.ts";
import { createKafkaGateway } from "./kafka.ts";
import { createPlanetscaleGateway } from "./planetscale.ts";
import { createTurnstileGateway } from "./turnstile.ts";
import { createUpstashRedisGateway } from "./upstash-redis.ts";

export interface ApiHandler {
  handle: RequestHandler;
  close(): Promise<void>;
}

/** An API written as a Hono app, served by Node's HTTP server. */
export function nodeHandler(api: { fetch: Hono["fetch"]; close(): Promise<void> }): ApiHandler {
  const listener = getRequestListener(api.fetch, { overrideGlobalObjects: false });
  return { handle: (req, res) => void listener(req, res), close: () => api.close() };
}

/** What `GET /stats` answers: per API, the HTTP requests received since the last reset. */
export type GatewayStats = Record<GatewayApi, { requests: number }>;

export const GATEWAY_APIS: readonly GatewayApi[] = [
  "planetscale",
  "upstashRedis",
  "kafka",
  "turnstile",
];

export interface GatewayOptions {
  /** The MariaDB behind the PlanetScale stand-in. */
  mysql: MysqlEndpoint;
  /** The redis-server behind the Upstash Redis and Kafka stand-ins. */
  redisUrl: string;
  planetscale: { username: string; password: string };
  upstashRedis: { token: string };
  kafka: { username: string; password: string };
  turnstile: { secret: string };
  /** 0 or absent: an ephemeral port. */
  ports?: Partial<Record<GatewayApi | "control", number>>;
  /** The control port's bearer token; absent: a random one (the normal case, one per start). */
  controlToken?: string;
  /** Tests only: replace an API's handler (e.g. with a stub). */
  handlers?: Partial<Record<GatewayApi, (faults: Faults) => ApiHandler>>;
}

export type GatewayEndpoints = Pick<
  LocalCloud,
  "planetscale" | "upstashRedis" | "kafka" | "turnstile" | "gatewayControl"
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
    const refusal = foreignRequest((name) => headerOf(req, name), this.port);
    if (refusal) {
      req.resume();
      sendJson(res, 403, { error: refusal });
      return;
    }
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
          if (!res.headersSent) sendJson(res, 500, { error: String(err) });
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

const FaultsBody = z
  .object({
    mode: z.enum(["none", "error", "hang"]).optional(),
    rejectMatching: z.array(z.string()).optional(),
  })
  .strict();

const ApiParam = z.enum(["planetscale", "upstashRedis", "kafka", "turnstile"]);

/**
 * Why a control request is refused (status and message), or null when it may go on. Browser
 * requests first, whatever their credentials: a page must not even learn whether a token works.
 */
function controlRefusal(c: Context, token: string, port: number): [401 | 403, string] | null {
  const foreign = foreignRequest((name) => c.req.header(name), port);
  if (foreign) return [403, foreign];
  const given = bearerToken(c.req.header("Authorization"));
  if (given === undefined) return [401, "Authorization: Bearer <gatewayControl.token> required"];
  if (!safeEqual(given, token)) return [403, "wrong control token"];
  return null;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const controlToken = opts.controlToken ?? randomBytes(32).toString("base64url");
  const faults: Record<GatewayApi, Faults> = {
    planetscale: noFaults(),
    upstashRedis: noFaults(),
    kafka: noFaults(),
    turnstile: noFaults(),
  };
  const create: Record<GatewayApi, (f: Faults) => ApiHandler> = {
    planetscale: (faults) =>
      nodeHandler(createPlanetscaleGateway({ mysql: opts.mysql, ...opts.planetscale, faults })),
    upstashRedis: (faults) =>
      nodeHandler(
        createUpstashRedisGateway({ redisUrl: opts.redisUrl, ...opts.upstashRedis, faults }),
      ),
    kafka: (faults) =>
      nodeHandler(createKafkaGateway({ redisUrl: opts.redisUrl, ...opts.kafka, faults })),
    turnstile: () => nodeHandler(createTurnstileGateway(opts.turnstile)),
    ...opts.handlers,
  };

  const listeners = new Map<GatewayApi, ApiListener>();
  let control: Server | undefined;
  let controlPort = 0;
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
    turnstile: { requests: get("turnstile").requests },
  });
  const notAllowed = (c: Context) =>
    c.json({ error: `use another method than ${c.req.method}` }, 405);
  /** The API named in the path, or undefined (answered 404). */
  const apiOf = (c: Context) => ApiParam.safeParse(c.req.param("api")).data;

  const controlApp = new Hono()
    .use(async (c, next) => {
      const refusal = controlRefusal(c, controlToken, controlPort);
      if (!refusal) return next();
      const [code, error] = refusal;
      const headers: Record<string, string> =
        code === 401 ? { "WWW-Authenticate": 'Bearer realm="gateway-control"' } : {};
      return c.json({ error }, code, headers);
    })
    .get("/health", (c) => c.json({ ok: true, apis: status() }))
    .delete("/faults", (c) => {
      for (const api of GATEWAY_APIS) {
        Object.assign(faults[api], noFaults());
        get(api).faultsChanged();
      }
      return c.json({ apis: status() });
    })
    .post("/faults/:api", async (c) => {
      const api = apiOf(c);
      if (!api) return c.json({ error: `unknown api ${c.req.param("api")}` }, 404);
      const body = FaultsBody.safeParse(await c.req.json().catch(() => undefined));
      if (!body.success) return c.json({ error: z.prettifyError(body.error) }, 400);
      Object.assign(faults[api], body.data);
      get(api).faultsChanged();
      return c.json(faults[api]);
    })
    .post("/apis/:api/:action{stop|start}", async (c) => {
      const api = apiOf(c);
      if (!api) return c.json({ error: `unknown api ${c.req.param("api")}` }, 404);
      const listener = get(api);
      if (c.req.param("action") === "stop") await listener.stop();
      else await listener.start();
      return c.json({ api, listening: listener.listening, port: listener.port });
    })
    .get("/stats", (c) => c.json(stats()))
    .post("/stats/reset", (c) => {
      for (const api of GATEWAY_APIS) get(api).requests = 0;
      return c.json(stats());
    })
    .all("/stats", notAllowed)
    .all("/stats/reset", notAllowed)
    .all("/faults/:api", notAllowed);
  controlApp.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  controlApp.onError((err, c) => c.json({ error: err.message }, 500));

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
    const listener = getRequestListener(controlApp.fetch, { overrideGlobalObjects: false });
    control = createServer((req, res) => void listener(req, res));
    await listen(control, HOST, opts.ports?.control ?? 0);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  controlPort = (control.address() as AddressInfo).port;

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
    turnstile: { url: base("turnstile"), secret: opts.turnstile.secret },
    gatewayControl: { url: `http://${HOST}:${controlPort}`, token: controlToken },
    faults,
    ports: {
      planetscale: get("planetscale").port,
      upstashRedis: get("upstashRedis").port,
      kafka: get("kafka").port,
      turnstile: get("turnstile").port,
      control: controlPort,
    },
    stopApi: (api) => get(api).stop(),
    startApi: (api) => get(api).start(),
    stop,
  };
}

/** One request header, as a string (Node joins repeated ones). */
function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}
