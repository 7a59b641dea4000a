import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { ManualClock } from "../../domain/clock.ts";
import {
  type DeliveryReport,
  type OutboxItem,
  perSink,
  type Sink,
  type SinkName,
} from "../../domain/sinks.ts";
import type { StatsView } from "../../domain/views.ts";
import { servicesFor } from "../../platform/services.ts";
import { createEvent, eventStub } from "../worker/helpers.ts";
import type { TestCouponEvent as CouponEvent } from "../worker/test-coupon-event.ts";

/**
 * Timing: every drain step in these tests is an alarm the test runs itself
 * (`runDurableObjectAlarm`). The object's clock starts far ahead of real time, so no alarm the
 * drain sets from it fires on its own; a claim's own alarm (25 ms ahead in real time) is parked
 * further still right after the claim, in the same call.
 */
export const CLOCK_START = Date.parse("2100-01-01T00:00:00Z");
const PARKED = Date.parse("2200-01-01T00:00:00Z");

/** The drain policy of this project (vitest.config.ts). */
export const policy = servicesFor(env).config.sinks.drain;

/** A sink that fails on command, and remembers every batch it was given. */
export class FakeSink implements Sink {
  readonly batches: OutboxItem[][] = [];
  /** While set, every delivery throws it (the sink cannot be reached). */
  down: string | null = null;
  /** Users whose records it refuses inside a successful answer; `true`: refused for good. */
  readonly refuse = new Map<string, boolean>();
  /** While set, a delivery waits for it: a batch in flight. */
  gate: Promise<void> | null = null;

  async deliver(items: OutboxItem[]): Promise<DeliveryReport> {
    this.batches.push(items);
    if (this.gate) await this.gate;
    if (this.down) throw new Error(this.down);
    const report: DeliveryReport = { delivered: [], rejected: [] };
    for (const { seq, record } of items) {
      const permanent = this.refuse.get(record.coupon.userId);
      if (permanent === undefined) report.delivered.push(seq);
      else report.rejected.push({ seq, error: `refused ${record.coupon.userId}`, permanent });
    }
    return report;
  }

  async probe(): Promise<void> {}

  /** The users of each batch, in order. */
  users(): string[][] {
    return this.batches.map((b) => b.map((item) => item.record.coupon.userId));
  }
}

export interface Harness {
  stub: DurableObjectStub<CouponEvent>;
  clock: ManualClock;
  sinks: Record<SinkName, FakeSink>;
}

/** A fresh event whose object drains to fake sinks (one per registered sink) on a manual clock. */
export async function harness(): Promise<Harness> {
  const event = await createEvent({ totalStock: 10_000 });
  const h: Harness = {
    stub: eventStub(event.id),
    clock: new ManualClock(CLOCK_START),
    sinks: perSink(() => new FakeSink()),
  };
  await runInDurableObject(h.stub, (o: CouponEvent) => {
    o.clock = h.clock;
    o.testHooks.sinks = h.sinks;
  });
  return h;
}

/** Claims a coupon for each user inside the object: one outbox record each. */
export async function claimIn(h: Pick<Harness, "stub">, users: string[]): Promise<void> {
  await runInDurableObject(h.stub, async (o: CouponEvent, state) => {
    for (const user of users) expect(o.claim(user).outcome).toBe("issued");
    await state.storage.setAlarm(PARKED);
  });
}

/** Runs the object's alarm once: one drain step. */
export async function step(h: Pick<Harness, "stub">): Promise<void> {
  expect(await runDurableObjectAlarm(h.stub)).toBe(true);
}

/** When the object's alarm is set for (null: none), read right after a step. */
export function alarmAt(h: Pick<Harness, "stub">): Promise<number | null> {
  return runInDurableObject(h.stub, (_: CouponEvent, state) => state.storage.getAlarm());
}

export async function statsOf(h: Pick<Harness, "stub">): Promise<StatsView> {
  const stats = await runInDurableObject(h.stub, (o: CouponEvent) => o.stats());
  if (!stats) throw new Error("no event");
  return stats;
}

/** Runs `fn` on the object's SQLite storage. */
export function inStorage<T>(h: Pick<Harness, "stub">, fn: (sql: SqlStorage) => T): Promise<T> {
  return runInDurableObject(h.stub, (_: CouponEvent, state) => fn(state.storage.sql));
}

/** Puts the object's parked alarm back in the test's hands after an RPC that set a real one. */
export async function park(h: Pick<Harness, "stub">): Promise<void> {
  await runInDurableObject(h.stub, (_: CouponEvent, state) => state.storage.setAlarm(PARKED));
}
