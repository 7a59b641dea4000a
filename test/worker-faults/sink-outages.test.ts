import { afterEach, describe, expect, it } from "vitest";
import { SINK_NAMES, type SinkName } from "../../domain/sinks.ts";
import type { GatewayApi } from "../../local/stack-types.ts";
import {
  drained,
  eventually,
  fault,
  healAll,
  health,
  kafkaRecords,
  outboxTotals,
  setApiRunning,
  stats,
  userCouponRows,
} from "../worker/cloud.ts";
import { claim, createEvent } from "../worker/helpers.ts";

// These tests break the shared gateway on purpose, so they run alone (see vitest.config.ts).
afterEach(healAll);

type Outage = { name: string; apis: GatewayApi[]; start: () => Promise<void> };

const outage = (name: string, apis: GatewayApi[], how: "error" | "hang" | "stopped"): Outage => ({
  name,
  apis,
  start: async () => {
    for (const target of apis) {
      if (how === "stopped") await setApiRunning(target, false);
      else await fault(target, { mode: how });
    }
  },
});

const outages: Outage[] = [
  outage("MySQL answering 500", ["planetscale"], "error"),
  outage("MySQL hanging past the timeout", ["planetscale"], "hang"),
  outage("MySQL stopped", ["planetscale"], "stopped"),
  outage("Kafka answering 500", ["kafka"], "error"),
  outage("Kafka stopped", ["kafka"], "stopped"),
  outage("MySQL and Kafka both failing", ["planetscale", "kafka"], "error"),
];

describe("a sink outage never fails a claim and never loses one", () => {
  for (const o of outages) {
    it(`${o.name}: 300 claims all answered 201, backlog grows, then drains exactly once`, async () => {
      const event = await createEvent({ totalStock: 300 });
      await o.start();
      const sinks = o.apis.map((a): SinkName => (a === "planetscale" ? "mysql" : "kafka"));

      const first = await Promise.all(
        Array.from({ length: 150 }, (_, i) => claim(event.id, `a${i}`)),
      );
      const during = await eventually(
        () => stats(event.id),
        (s) => sinks.every((k) => s.sinks[k].state === "retrying" && s.sinks[k].backlog === 150),
        { what: "sinks retrying with 150 waiting" },
      );
      const second = await Promise.all(
        Array.from({ length: 150 }, (_, i) => claim(event.id, `b${i}`)),
      );
      expect([...first, ...second].every((r) => r.status === 201)).toBe(true);
      const grown = await stats(event.id);
      for (const k of sinks) {
        expect(grown.sinks[k].backlog).toBe(300);
        expect(grown.sinks[k].lastError).toBeTruthy();
      }
      expect(during.outbox.pending).toBeGreaterThanOrEqual(150);
      // /health sees the outage service-wide (the sink is retrying), the operator its backlog.
      await eventually(
        health,
        (h) => h.status === "degraded" && sinks.every((k) => h.sinks[k] === "retrying"),
        { what: "/health reporting the outage" },
      );
      await eventually(outboxTotals, (o) => sinks.every((k) => (o?.sinks[k].backlog ?? 0) >= 150), {
        what: "the metrics summary counting the backlog",
      });
      // The sink that still works is not held back: it takes all 300 during the outage.
      const healthy = SINK_NAMES.filter((k) => !sinks.includes(k));
      const meanwhile = await eventually(
        () => stats(event.id),
        (s) => healthy.every((k) => s.sinks[k].backlog === 0 && s.sinks[k].delivered === 300),
        { what: "the healthy sink drained during the outage" },
      );
      for (const k of sinks) expect(meanwhile.sinks[k].backlog).toBe(300);

      await healAll();
      const after = await drained(event.id);
      for (const k of SINK_NAMES) expect(after.sinks[k]).toMatchObject({ state: "ok", backlog: 0 });

      await eventually(health, (h) => h.status === "ok", { what: "/health ok again" });
      const rows = await userCouponRows(event.id);
      expect(rows).toHaveLength(300);
      expect(new Set(rows.map((r) => r.id)).size).toBe(300);
      const keys = new Set((await kafkaRecords(event.id)).map((r) => r.key));
      expect(keys).toEqual(new Set(rows.map((r) => r.id)));
    });
  }
});
