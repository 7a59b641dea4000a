/**
 * What the local cloud exposes. `npm start` writes it (plus `worker`) to `.local/stack.json`;
 * `npm test` writes its own copy and names it in `COUPON_STACK_FILE` for the test files.
 */
export interface MysqlEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface LocalCloud {
  /** Real MariaDB (mariadbd) on its own port and data folder. */
  mysql: MysqlEndpoint;
  /** Real redis-server on its own port and data folder. */
  redis: { host: string; port: number; url: string };
  /** Stand-in for PlanetScale's HTTP API: `url` embeds Basic credentials, as @planetscale/database accepts. */
  planetscale: { url: string; host: string; username: string; password: string };
  /** Stand-in for Upstash Redis REST. */
  upstashRedis: { url: string; token: string };
  /** Stand-in for Upstash Kafka REST and Kafka REST Proxy v2 (topics kept as Redis Streams). */
  kafka: { url: string; username: string; password: string };
  /**
   * Stand-in for Turnstile's siteverify (`url` + `/turnstile/v0/siteverify`); `POST url/tokens`
   * mints a token that passes with `secret` once.
   */
  turnstile: { url: string; secret: string };
  /**
   * Control port of the gateway: `POST /faults/{api}`, `POST /apis/{api}/stop|start`, `GET /stats`.
   * Every request needs `Authorization: Bearer <token>` (random per start); a browser's request
   * (one with an `Origin` header) is refused. `controlFetch` (local/gateway/control-client.ts) sends it.
   */
  gatewayControl: { url: string; token: string };
}

export interface StackFile extends LocalCloud {
  /** The Worker's base URL (only when a Worker was started). */
  worker?: string;
}

/** The gateway's control port: fault injection and stopping/starting one API (tests only). */
export type GatewayApi = "planetscale" | "upstashRedis" | "kafka" | "turnstile";
