/**
 * Reading what reached the sinks, from outside the service: MySQL directly (mysql2; identifier
 * columns are VARBINARY holding UTF-8, decoded here) and the Kafka topic through the Kafka REST
 * v2 consumer API (a fresh consumer group reading from the start).
 */
import { createConnection } from "mysql2/promise";
import type { MysqlEndpoint } from "../local/stack-types.ts";

export interface MysqlRow {
  id: string;
  userId: string;
}

export interface KafkaRecord {
  key: string;
  type: string;
  couponId: string;
  eventId: string;
}

export interface KafkaEndpoint {
  url: string;
  username: string;
  password: string;
  topic: string;
}

const text = (v: unknown): string =>
  Buffer.isBuffer(v)
    ? v.toString("utf8")
    : v instanceof Uint8Array
      ? Buffer.from(v).toString("utf8")
      : String(v);

/** Every `user_coupons` row of the event. `endpoint` is the stack file's, or a mysql:// URL. */
export async function mysqlRows(
  endpoint: MysqlEndpoint | string,
  eventId: string,
): Promise<MysqlRow[]> {
  const conn =
    typeof endpoint === "string"
      ? await createConnection(endpoint)
      : await createConnection({
          host: endpoint.host,
          port: endpoint.port,
          user: endpoint.user,
          password: endpoint.password,
          database: endpoint.database,
        });
  try {
    const [rows] = await conn.query("SELECT id, user_id FROM user_coupons WHERE event_id = ?", [
      Buffer.from(eventId, "utf8"),
    ]);
    return (rows as { id: unknown; user_id: unknown }[]).map((r) => ({
      id: text(r.id),
      userId: text(r.user_id),
    }));
  } finally {
    await conn.end();
  }
}

/** Every record of the topic about `eventId`, read from the start by a fresh consumer group. */
export async function kafkaRecords(k: KafkaEndpoint, eventId: string): Promise<KafkaRecord[]> {
  const auth = { Authorization: `Basic ${btoa(`${k.username}:${k.password}`)}` };
  const json = "application/vnd.kafka.v2+json";
  const group = `loadtest-${crypto.randomUUID()}`;
  const created = await fetch(`${k.url}/consumers/${group}`, {
    method: "POST",
    headers: { ...auth, "Content-Type": json },
    body: JSON.stringify({ name: "reader", format: "binary", "auto.offset.reset": "earliest" }),
  });
  if (!created.ok)
    throw new Error(`Kafka REST: create consumer: ${created.status} ${await created.text()}`);
  const base = `${k.url}/consumers/${group}/instances/reader`;
  const subscribed = await fetch(`${base}/subscription`, {
    method: "POST",
    headers: { ...auth, "Content-Type": json },
    body: JSON.stringify({ topics: [k.topic] }),
  });
  await subscribed.body?.cancel();
  if (!subscribed.ok) throw new Error(`Kafka REST: subscribe: ${subscribed.status}`);
  const out: KafkaRecord[] = [];
  try {
    for (let empty = 0; empty < 2; ) {
      const res = await fetch(`${base}/records?max_bytes=10000000`, {
        headers: { ...auth, Accept: "application/vnd.kafka.binary.v2+json" },
      });
      if (!res.ok) throw new Error(`Kafka REST: fetch records: ${res.status} ${await res.text()}`);
      const batch = (await res.json()) as { key: string | null; value: string }[];
      empty = batch.length === 0 ? empty + 1 : 0;
      for (const r of batch) {
        const value = JSON.parse(Buffer.from(r.value, "base64").toString("utf8")) as {
          type?: string;
          coupon?: { id?: string; eventId?: string };
        };
        if (value.coupon?.eventId !== eventId) continue;
        out.push({
          key: r.key === null ? "" : Buffer.from(r.key, "base64").toString("utf8"),
          type: value.type ?? "",
          couponId: value.coupon.id ?? "",
          eventId,
        });
      }
    }
  } finally {
    const res = await fetch(base, { method: "DELETE", headers: auth }).catch(() => undefined);
    await res?.body?.cancel();
  }
  return out;
}
