import type { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../platform/config.ts";
import type { Database } from "../platform/db/client.ts";
import { type PlatformServices, type Services, servicesFor } from "../platform/services.ts";
import type { Sinks } from "../platform/sinks/index.ts";
import { buildLimits, type EdgeLimits } from "./lib/edge-limits.ts";
import { EventClient } from "./lib/event-client.ts";

/**
 * The edge's services: the isolate's platform services (configuration, Redis, MySQL, sinks) and
 * what the edge itself keeps per isolate (the event client's snapshots, the rate limiters).
 * Routes reach it as `c.var.services`; each part is built on first use.
 */
export class EdgeServices implements PlatformServices {
  readonly #platform: Services;
  readonly #env: Env;
  #events: EventClient | undefined;
  #limits: EdgeLimits | null | undefined;

  constructor(platform: Services, env: Env) {
    this.#platform = platform;
    this.#env = env;
  }

  get config(): Config {
    return this.#platform.config;
  }
  validConfig(): Config | null {
    return this.#platform.validConfig();
  }
  get redis(): Redis | null {
    return this.#platform.redis;
  }
  get database(): Database | null {
    return this.#platform.database;
  }
  get sinks(): Sinks {
    return this.#platform.sinks;
  }

  /** The one way to the events' objects, with the isolate's snapshots of them. */
  get events(): EventClient {
    this.#events ??= new EventClient(this.#env, this.#platform);
    return this.#events;
  }

  /** The rate limiters; null without Redis (no limits). */
  get limits(): EdgeLimits | null {
    if (this.#limits === undefined) this.#limits = buildLimits(this.redis, this.config.rateLimit);
    return this.#limits;
  }
}

const edge = (platform: Services, env: object) => new EdgeServices(platform, env as Env);

/** The edge's services for these bindings: one per isolate, inside the platform's. */
export function edgeServicesFor(env: Env): EdgeServices {
  return servicesFor(env).part(edge);
}
