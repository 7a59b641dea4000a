import { env } from "cloudflare:workers";
import { Client, cast } from "@planetscale/database";
import { vi } from "vitest";
import { type CouponRecord, SINK_NAMES, type SinkName } from "../../domain/sinks.ts";
import { controlFetch } from "../../local/gateway/control-client.ts";
import type { GatewayApi, StackFile } from "../../local/stack-types.ts";
import type { OutboxTotals } from "../../platform/outbox-registry.ts";
import type { HealthAnswer } from "../../src/routes/service.ts";
import type { EventStats } from "../../src/schemas/event.ts";
import { admin, api } from "./helpers.ts";

/** The local cloud `npm test` started (named through the COUPON_STACK binding). */
export function stack(): StackFile {
  const raw = (env as unknown as { COUPON_STACK?: string }).COUPON_STACK;
  if (!raw) throw new Error("no local cloud: run these tests with `npm test` (it starts one)");
  return JSON.parse(raw) as StackFile;
}

let client: Client | undefined;
/** MySQL as the Worker sees it: through the PlanetScale HTTP API of the gateway. */
export function mysql(): Client {
  client ??= new Client({ url: stack().planetscale.url, cast: textOfBinary });
  return client;
}

/** Identifier columns are VARBINARY (byte-exact); read them back as the UTF-8 text they hold. */
const textOfBinary: typeof cast = (field, value) => {
  const v = cast(field, value);
  return v instanceof Uint8Array ? new TextDecoder().decode(v) : v;
};

export interface CouponRow {
  id: string;
  event_id: string;
  user_id: string;
  status: string;
}

export async function userCouponRows(eventId: string): Promise<CouponRow[]> {
  const result = await mysql().execute(
    "SELECT id, event_id, user_id, status FROM user_coupons WHERE event_id = ? ORDER BY id",
    [eventId],
  );
  return result.rows as CouponRow[];
}

/** Every record of the coupon topic about `eventId`, read from the start by a fresh consumer. */
export async function kafkaRecords(
  eventId: string,
): Promise<{ key: string; value: CouponRecord }[]> {
  const { url, username, password } = stack().kafka;
  const auth = { Authorization: `Basic ${btoa(`${username}:${password}`)}` };
  const group = `audit-${crypto.randomUUID()}`;
  const json = "application/vnd.kafka.v2+json";
  const created = await fetch(`${url}/consumers/${group}`, {
    method: "POST",
    headers: { ...auth, "Content-Type": json },
    body: JSON.stringify({ name: "reader", format: "binary", "auto.offset.reset": "earliest" }),
  });
  if (!created.ok) throw new Error(`create consumer: ${created.status} ${await created.text()}`);
  const base = `${url}/consumers/${group}/instances/reader`;
  await fetch(`${base}/subscription`, {
    method: "POST",
    headers: { ...auth, "Content-Type": json },
    body: JSON.stringify({ topics: [(env as unknown as { KAFKA_TOPIC: string }).KAFKA_TOPIC] }),
  });
  const records: { key: string; value: CouponRecord }[] = [];
  try {
    for (let empty = 0; empty < 2; ) {
      const res = await fetch(`${base}/records?max_bytes=10000000`, {
        headers: { ...auth, Accept: "application/vnd.kafka.binary.v2+json" },
      });
      if (!res.ok) throw new Error(`fetch records: ${res.status} ${await res.text()}`);
      const batch = await res.json<{ key: string; value: string }[]>();
      empty = batch.length === 0 ? empty + 1 : 0;
      for (const r of batch) {
        const value = JSON.parse(fromBase64(r.value)) as CouponRecord;
        if (value.coupon?.eventId === eventId) records.push({ key: fromBase64(r.key), value });
      }
    }
  } finally {
    await fetch(base, { method: "DELETE", headers: auth });
  }
  return records;
}

const fromBase64 = (b64: string): string =>
  new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));

/** Makes one gateway API fail: `error` answers 500, `hang` never answers. */
export async function fault(
  target: GatewayApi,
  faults: { mode?: "none" | "error" | "hang"; rejectMatching?: string[] },
): Promise<void> {
  const res = await controlFetch(stack().gatewayControl, `/faults/${target}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(faults),
  });
  if (!res.ok) throw new Error(`fault ${target}: ${res.status}`);
}

export async function healAll(): Promise<void> {
  for (const target of ["planetscale", "kafka", "upstashRedis", "turnstile"] as const) {
    await fault(target, { mode: "none", rejectMatching: [] });
    await controlFetch(stack().gatewayControl, `/apis/${target}/start`, { method: "POST" });
  }
}

/** Stops (connections refused) or restarts one API of the gateway on its port. */
export async function setApiRunning(target: GatewayApi, running: boolean): Promise<void> {
  const res = await controlFetch(
    stack().gatewayControl,
    `/apis/${target}/${running ? "start" : "stop"}`,
    { method: "POST" },
  );
  if (!res.ok) throw new Error(`${running ? "start" : "stop"} ${target}: ${res.status}`);
}

/**
 * Writes a record into an object's outbox by hand (inside `runInDurableObject`), owed to `sinks`
 * only: what a replay or a forged record needs. Returns its seq.
 */
export function queueRecord(
  sql: SqlStorage,
  record: { coupon: { id: string } },
  { version = 1, sinks = SINK_NAMES as readonly SinkName[], createdAt = Date.now() } = {},
): number {
  const { seq } = sql
    .exec<{ seq: number }>(
      "INSERT INTO outbox (coupon_id, version, payload, created_at) VALUES (?, ?, ?, ?) RETURNING seq",
      record.coupon.id,
      version,
      JSON.stringify(record),
      createdAt,
    )
    .one();
  for (const sink of sinks)
    sql.exec("INSERT INTO outbox_delivery (sink, seq) VALUES (?, ?)", sink, seq);
  return seq;
}

/** The answers of `GET /v1/events/{id}/stats` and `GET /health`, as their schemas define them. */
export type Stats = EventStats;
export type Health = HealthAnswer;

export async function health(): Promise<Health> {
  return (await api("/health")).json<Health>();
}

/** Every event's outbox as the operator sees it (`/health` is public and shows no figures). */
export async function outboxTotals(): Promise<OutboxTotals | null> {
  const res = await api("/v1/admin/metrics/summary", { headers: admin() });
  if (res.status !== 200) throw new Error(`metrics summary: ${res.status}`);
  return (await res.json<{ outbox: OutboxTotals | null }>()).outbox;
}

export async function stats(eventId: string): Promise<Stats> {
  const res = await api(`/v1/events/${eventId}/stats`, { headers: admin() });
  if (res.status !== 200) throw new Error(`stats: ${res.status}`);
  return res.json<Stats>();
}

/**
 * Awaits a condition of the system (the drain runs on its own alarms), polling it with
 * `vi.waitFor`; fails with the last observed value after `timeoutMs`.
 */
export function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 30_000, what = "condition" } = {},
): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await read();
      if (!done(value)) {
        throw new Error(`${what} not reached; last: ${JSON.stringify(value).slice(0, 500)}`);
      }
      return value;
    },
    { timeout: timeoutMs, interval: 50 },
  );
}

export const drained = (eventId: string, timeoutMs = 30_000) =>
  eventually(
    () => stats(eventId),
    (s) => s.outbox.pending === 0,
    { timeoutMs, what: `outbox of ${eventId} empty` },
  );
