/**
 * The post-mortem's alert rules, adapted to this service, evaluated every minute by the Cron
 * Trigger (`scheduled` in src/index.ts) and by `POST /v1/admin/alerts/evaluate`:
 *
 * - `p95`: a route's p95 over the last minutes above ALERT_P95_MS (the post-mortem's 2 s SLA);
 * - `error-rate`: 5xx answers above ALERT_ERROR_RATE_PCT of all answers (post-mortem: 5%);
 * - `rps`: more answers per second than ALERT_MAX_RPS (post-mortem: TPS > 200);
 * - `object-unavailable`: an event's object answered 503 `unavailable` (busy or past its deadline);
 * - `outbox-backlog` / `outbox-age`: more undelivered outbox rows than ALERT_OUTBOX_BACKLOG, or the
 *   oldest older than ALERT_OUTBOX_AGE_S (the analogue of "pool use > 70%": what piles up when a
 *   downstream cannot keep up);
 * - `sink-retrying:<sink>`: a sink `retrying` for ALERT_SINK_RETRYING_MINUTES.
 *
 * One post when a rule starts firing, one when it clears, nothing in between however many runs
 * see it (the incident is kept in a state store: Redis when configured, else this isolate).
 * Plain TypeScript with its clock, store and poster injected, so Node tests drive it.
 */
import type { Config } from "../../platform/config.ts";
import type { OutboxTotals } from "../../platform/outbox-registry.ts";
import type { Summary } from "./metrics.ts";

export type AlertConfig = Config["alerts"];

/** What one evaluation looks at. */
export interface AlertInput {
  /**
   * Requests over the last ALERT_WINDOW_MINUTES; null when they could not be read (the Analytics
   * Engine SQL API failed): the request rules have no verdict, and their incidents stay as they are.
   */
  requests: Summary | null;
  /** Every event's outbox (null without Redis: the outbox rules have no verdict). */
  outbox: OutboxTotals | null;
}

export interface Verdict {
  rule: string;
  /** null: no verdict this run (no data); an open incident neither resolves nor changes. */
  firing: boolean | null;
  /** What was seen, for the message (no user data: routes, numbers, sink names). */
  detail: string;
}

export interface Incident {
  rule: string;
  since: number;
  detail: string;
}

export interface AlertState {
  /** Open incidents by rule: posted as firing, not yet as resolved. */
  open: Record<string, Incident>;
  /** Since when each sink has been seen retrying (epoch ms). */
  retryingSince: Record<string, number>;
}

export interface AlertStore {
  load(): Promise<AlertState | null>;
  save(state: AlertState): Promise<void>;
}

/** Posts one message; throws when the receiver does not take it (it is retried next run). */
export type Poster = (message: AlertMessage) => Promise<void>;

/** Slack-compatible incoming-webhook JSON (`text`), plus fields for other receivers. */
export interface AlertMessage {
  text: string;
  status: "firing" | "resolved";
  rule: string;
  since: string;
  at: string;
}

const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

/** The rules that read the requests, so a run without request data can name them. */
const REQUEST_RULES = ["p95", "error-rate", "rps", "object-unavailable"] as const;

function requestVerdicts(config: AlertConfig, requests: Summary | null): Verdict[] {
  if (!requests) {
    return REQUEST_RULES.map((rule) => ({ rule, firing: null, detail: "no request data" }));
  }
  const verdicts: Verdict[] = [];
  const enough = requests.total.count >= config.minRequests;
  const window = `last ${Math.round(requests.windowSeconds)} s`;

  const slow = requests.routes
    .filter((r) => r.count >= config.minRequests && (r.p95Ms ?? 0) > config.p95Ms)
    .map((r) => `${r.method} ${r.route} p95 ${fmtMs(r.p95Ms ?? 0)}`);
  verdicts.push({
    rule: "p95",
    firing: slow.length > 0,
    detail: `${slow.join("; ") || "every route within"} (limit ${fmtMs(config.p95Ms)}, ${window})`,
  });

  const errorPct = requests.total.errorRate * 100;
  verdicts.push({
    rule: "error-rate",
    firing: enough && errorPct > config.errorRatePct,
    detail: `5xx ${errorPct.toFixed(1)}% of ${requests.total.count} answers (limit ${config.errorRatePct}%, ${window})`,
  });

  verdicts.push({
    rule: "rps",
    firing: requests.total.rps > config.maxRps,
    detail: `${requests.total.rps.toFixed(1)} answers/s (limit ${config.maxRps}/s, ${window})`,
  });

  const unavailable = requests.total.bySlug.unavailable ?? 0;
  verdicts.push({
    rule: "object-unavailable",
    firing: unavailable > 0,
    detail: `${unavailable} answers 503 unavailable (an event's object busy or past its deadline, ${window})`,
  });
  return verdicts;
}

/** Every rule's verdict on one input. Sinks' retrying durations are read from `state`. */
export function evaluate(
  config: AlertConfig,
  input: AlertInput,
  state: AlertState,
  now: number,
): Verdict[] {
  const { requests, outbox } = input;
  const verdicts = requestVerdicts(config, requests);

  if (outbox) {
    verdicts.push({
      rule: "outbox-backlog",
      firing: outbox.pending > config.outboxBacklog,
      detail: `${outbox.pending} outbox rows undelivered (limit ${config.outboxBacklog})`,
    });
    verdicts.push({
      rule: "outbox-age",
      firing: outbox.pending > 0 && outbox.oldestAgeMs > config.outboxAgeSeconds * 1000,
      detail: `oldest undelivered row ${fmtMs(outbox.oldestAgeMs)} old (limit ${config.outboxAgeSeconds} s)`,
    });
    for (const [sink, totals] of Object.entries(outbox.sinks)) {
      const since = state.retryingSince[sink];
      const minutes = since === undefined ? 0 : (now - since) / 60_000;
      verdicts.push({
        rule: `sink-retrying:${sink}`,
        firing: totals.retryingEvents > 0 && minutes >= config.sinkRetryingMinutes,
        detail: `${sink} retrying for ${minutes.toFixed(1)} min in ${totals.retryingEvents} event(s), backlog ${totals.backlog} (limit ${config.sinkRetryingMinutes} min)`,
      });
    }
  }
  return verdicts;
}

/**
 * One evaluation: updates how long each sink has been retrying, posts what started firing and
 * what cleared, and saves the state. A post that fails leaves that change for the next run.
 * Returns the incidents open afterwards.
 */
export async function runAlerts(opts: {
  config: AlertConfig;
  input: AlertInput;
  store: AlertStore;
  post: Poster | null;
  now: number;
}): Promise<{ open: Incident[]; posted: AlertMessage[] }> {
  const { config, input, store, post, now } = opts;
  const state: AlertState = (await store.load()) ?? { open: {}, retryingSince: {} };
  if (input.outbox) {
    for (const [sink, totals] of Object.entries(input.outbox.sinks)) {
      if (totals.retryingEvents > 0) state.retryingSince[sink] ??= now;
      else delete state.retryingSince[sink];
    }
  }
  const posted: AlertMessage[] = [];
  const send = async (message: AlertMessage): Promise<boolean> => {
    if (!post) return true; // no receiver configured: incidents are still tracked
    try {
      await post(message);
      posted.push(message);
      return true;
    } catch {
      return false;
    }
  };
  const seen = new Set<string>();
  for (const verdict of evaluate(config, input, state, now)) {
    seen.add(verdict.rule);
    if (verdict.firing === null) continue; // no verdict: neither fires nor resolves
    const open = state.open[verdict.rule];
    if (verdict.firing && !open) {
      const ok = await send({
        text: `:rotating_light: FIRING ${verdict.rule}: ${verdict.detail}`,
        status: "firing",
        rule: verdict.rule,
        since: new Date(now).toISOString(),
        at: new Date(now).toISOString(),
      });
      if (ok) state.open[verdict.rule] = { rule: verdict.rule, since: now, detail: verdict.detail };
    } else if (!verdict.firing && open) {
      await resolve(open, verdict.detail);
    } else if (open) {
      open.detail = verdict.detail;
    }
  }
  // A rule with no verdict this time (no Redis, a sink gone) resolves rather than hanging open.
  for (const open of Object.values(state.open)) {
    if (!seen.has(open.rule)) await resolve(open, "no longer evaluated");
  }
  await store.save(state);
  return { open: Object.values(state.open), posted };

  async function resolve(open: Incident, detail: string): Promise<void> {
    const minutes = Math.max(0, Math.round((now - open.since) / 60_000));
    const ok = await send({
      text: `:white_check_mark: RESOLVED ${open.rule} after ${minutes} min: ${detail}`,
      status: "resolved",
      rule: open.rule,
      since: new Date(open.since).toISOString(),
      at: new Date(now).toISOString(),
    });
    if (ok) delete state.open[open.rule];
  }
}

/** A poster to a Slack-compatible webhook URL; any answer but 2xx is a failure. */
export function webhookPoster(url: string, timeoutMs = 5_000): Poster {
  return async (message) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`alert webhook answered HTTP ${res.status}`);
  };
}

/** State kept in this isolate only (no Redis configured; tests). */
export function memoryStore(): AlertStore & { state: AlertState | null } {
  const store = {
    state: null as AlertState | null,
    load: async () => (store.state ? structuredClone(store.state) : null),
    save: async (state: AlertState) => {
      store.state = structuredClone(state);
    },
  };
  return store;
}
