import type { Redis } from "@upstash/redis/cloudflare";
import { type Config, ConfigError, parseConfig } from "./config.ts";
import { connectDatabase, type Database } from "./db/client.ts";
import { connectRedis } from "./redis.ts";
import { buildSinks, type Sinks } from "./sinks/index.ts";

/**
 * Everything an isolate builds once from its bindings and then shares between requests: the
 * configuration and the cloud's clients. The edge hands it to routes through Hono's context
 * (`c.var.services`), the objects take it in their constructor. Each part is built on first use,
 * so an invalid configuration fails where it is read (every route, a drain), never here.
 */
export interface PlatformServices {
  readonly config: Config;
  readonly redis: Redis | null;
  readonly database: Database | null;
  readonly sinks: Sinks;
}

/** Builds a part of an upper layer's services (the edge's), once per isolate. */
export type Part<T> = (services: Services, env: object) => T;

export class Services implements PlatformServices {
  readonly #env: object;
  readonly #parts = new Map<Part<unknown>, unknown>();
  #config: Config | ConfigError | undefined;
  #redis: Redis | null | undefined;
  #database: Database | null | undefined;
  #sinks: Sinks | undefined;

  constructor(env: object) {
    this.#env = env;
  }

  /**
   * The configuration, parsed once. An invalid one is logged once (names and rules only) and
   * thrown as a `ConfigError` by every read.
   */
  get config(): Config {
    if (this.#config === undefined) {
      try {
        this.#config = parseConfig(this.#env);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        console.error(
          JSON.stringify({ level: "error", msg: "invalid configuration", problems: err.problems }),
        );
        this.#config = err;
      }
    }
    if (this.#config instanceof ConfigError) throw this.#config;
    return this.#config;
  }

  /** The configuration, or null when it is invalid (for what must work anyway: the log). */
  validConfig(): Config | null {
    try {
      return this.config;
    } catch (err) {
      if (err instanceof ConfigError) return null;
      throw err;
    }
  }

  /** Upstash Redis; null when not configured. */
  get redis(): Redis | null {
    if (this.#redis === undefined) {
      const config = this.config.redis;
      this.#redis = config ? connectRedis(config) : null;
    }
    return this.#redis;
  }

  /** MySQL, the MySQL sink's database (DATABASE_URL); null when not configured. */
  get database(): Database | null {
    if (this.#database === undefined) {
      const { mysql, timeoutMs } = this.config.sinks;
      this.#database = mysql ? connectDatabase(mysql.url, timeoutMs) : null;
    }
    return this.#database;
  }

  /** Each registered sink, null where not configured. */
  get sinks(): Sinks {
    this.#sinks ??= buildSinks(this.config.sinks, {
      timeoutMs: this.config.sinks.timeoutMs,
      database: this.database,
    });
    return this.#sinks;
  }

  /** What `build` makes of these services, built on first use (keyed by `build` itself). */
  part<T>(build: Part<T>): T {
    if (!this.#parts.has(build)) this.#parts.set(build, build(this, this.#env));
    return this.#parts.get(build) as T;
  }
}

const cache = new WeakMap<object, Services>();

/** The isolate's services for these bindings (one per env object: the isolate's). */
export function servicesFor(env: object): Services {
  let services = cache.get(env);
  if (!services) {
    services = new Services(env);
    cache.set(env, services);
  }
  return services;
}
