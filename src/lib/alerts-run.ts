import type { Redis } from "@upstash/redis/cloudflare";
import { readOutboxTotals } from "../../platform/outbox-registry.ts";
import type { PlatformServices } from "../../platform/services.ts";
import { withTimeout } from "../../platform/timeout.ts";
import {
  type AlertMessage,
  type AlertState,
  type AlertStore,
  type Incident,
  memoryStore,
  runAlerts,
  webhookPoster,
} from "./alerts.ts";
import { analyticsSummary } from "./analytics-sql.ts";
import { metrics } from "./metrics.ts";

const STATE_KEY = "coupon:alerts:state";
const LOCK_KEY = "coupon:alerts:lock";
const REDIS_TIMEOUT_MS = 2_000;

/** Incidents in Redis, so every isolate (and every cron run) sees the same ones. */
function redisStore(redis: Redis): AlertStore {
  return {
    load: () => withTimeout(redis.get<AlertState>(STATE_KEY), REDIS_TIMEOUT_MS, "alert state"),
    save: async (state) => {
      await withTimeout(redis.set(STATE_KEY, state), REDIS_TIMEOUT_MS, "alert state");
    },
  };
}

/** Without Redis, this isolate's own memory. */
const localStore = memoryStore();

/**
 * Evaluates the alert rules now, on the requests of every isolate (Analytics Engine's SQL API,
 * when CF_ACCOUNT_ID and CF_ANALYTICS_TOKEN are set; else this isolate's aggregate) and every
 * event's outbox summary in Redis; posts to ALERT_WEBHOOK_URL what started or stopped firing.
 * One evaluation at a time across isolates (a Redis lock): a cron run and a manual one never
 * both post.
 */
export async function evaluateAlerts(
  services: PlatformServices,
  now: number = Date.now(),
): Promise<{ open: Incident[]; posted: AlertMessage[]; evaluated: boolean }> {
  const { alerts: config, analytics } = services.config;
  const redis = services.redis;
  const store = redis ? redisStore(redis) : localStore;
  if (redis) {
    const locked = await withTimeout(
      redis.set(LOCK_KEY, now, { nx: true, px: 30_000 }),
      REDIS_TIMEOUT_MS,
      "alert lock",
    );
    if (locked === null)
      return { open: await openIncidents(services), posted: [], evaluated: false };
  }
  try {
    const outbox = redis
      ? await withTimeout(readOutboxTotals(redis, now), REDIS_TIMEOUT_MS, "outbox totals").catch(
          () => null,
        )
      : null;
    const requests = analytics
      ? await analyticsSummary(analytics, config.windowMinutes, now)
      : metrics.summary(config.windowMinutes, now);
    const result = await runAlerts({
      config,
      input: { requests, outbox },
      store,
      post: config.webhookUrl ? webhookPoster(config.webhookUrl) : null,
      now,
    });
    return { ...result, evaluated: true };
  } finally {
    if (redis)
      await withTimeout(redis.del(LOCK_KEY), REDIS_TIMEOUT_MS, "alert lock").catch(() => {});
  }
}

/** The incidents open now (posted as firing, not yet resolved). */
export async function openIncidents(services: PlatformServices): Promise<Incident[]> {
  const redis = services.redis;
  const state = await (redis ? redisStore(redis) : localStore).load();
  return Object.values(state?.open ?? {});
}
