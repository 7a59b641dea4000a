/**
 * The scenarios: each prepares its event (and tokens) through the API, outside the timed part,
 * then hands one load to the load thread and checks what came back.
 */
import { sign } from "hono/jwt";
import type { BurstRequest, TimedRequest } from "../bench-load.ts";
import { log, sleep } from "./log.ts";
import type { Config, ScenarioName } from "./options.ts";
import { EXPECTED, type RunResult } from "./result.ts";
import type { Rig } from "./stack.ts";

interface Prepared {
  req: BurstRequest | TimedRequest;
  /** Statuses that are not errors ("201", "409 sold-out", ...). */
  expected: string[];
  /** The claim event, to read back `issued` and wait for its outbox. */
  eventId?: string;
}

const claimPath = (id: string) => `/v1/events/${id}/claims`;

/** The admin calls that set up and watch the scenarios' events. */
class Events {
  private counter = 0;
  private readonly rig: Rig;
  private readonly adminHeaders: Record<string, string>;

  constructor(rig: Rig) {
    this.rig = rig;
    this.adminHeaders = {
      Authorization: `Bearer ${rig.admin}`,
      "Content-Type": "application/json",
    };
  }

  async create(label: string, totalStock: number, shards = 1): Promise<string> {
    const id = `bench-${this.rig.runId}-${label}-${++this.counter}`;
    const res = await this.rig.api("/v1/events", {
      method: "POST",
      headers: this.adminHeaders,
      body: JSON.stringify({
        id,
        name: id,
        totalStock,
        startsAt: new Date(Date.now() - 1000).toISOString(),
        ...(shards > 1 ? { shards } : {}),
      }),
    });
    if (res.status !== 201)
      throw new Error(`create event ${id}: ${res.status} ${await res.text()}`);
    await res.body?.cancel();
    return id;
  }

  async read(id: string): Promise<{ state: string; issued: number }> {
    const res = await this.rig.api(`/v1/events/${id}`);
    if (res.status !== 200) throw new Error(`GET event ${id}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { state: string; issued: number };
  }

  async soldOut(label: string): Promise<string> {
    const id = await this.create(label, 1);
    const token = await sign(
      { sub: `bench-${this.rig.runId}-setup-${id}`, exp: Math.floor(Date.now() / 1000) + 3600 },
      this.rig.secret,
      "HS256",
    );
    const res = await this.rig.api(claimPath(id), {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
    });
    if (res.status !== 201)
      throw new Error(`claim the last coupon of ${id}: ${res.status} ${await res.text()}`);
    await res.body?.cancel();
    return id;
  }

  /** Waits (at most 60 s) until the event's outbox is empty: the sinks have every claim. */
  async untilDrained(id: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await this.rig.api(`/v1/events/${id}/stats`, { headers: this.adminHeaders });
      const stats = (await res.json()) as { outbox?: { pending?: number } };
      const pending = stats.outbox?.pending ?? 0;
      if (pending === 0) return;
      if (Date.now() > deadline) {
        log(`  (outbox of ${id} still holds ${pending} rows after 60 s; going on)`);
        return;
      }
      await sleep(100);
    }
  }
}

export class Scenarios {
  private readonly rig: Rig;
  private readonly config: Config;
  private readonly events: Events;

  constructor(rig: Rig, config: Config) {
    this.rig = rig;
    this.config = config;
    this.events = new Events(rig);
  }

  private async prepare(name: ScenarioName, warmup: boolean): Promise<Prepared> {
    const c = this.config;
    const origin = this.rig.url;
    const timed = (
      path: string,
      method: "GET" | "POST",
      auth: "fresh-user" | "none",
      maxRequests: number,
      target = origin,
    ): TimedRequest => ({
      type: "timed",
      origin: target,
      path,
      method,
      auth,
      connections: c.connections,
      durationMs: warmup ? c.warmupMs : c.durationMs,
      maxRequests: warmup ? Math.min(maxRequests, 20_000) : maxRequests,
      timeoutMs: c.requestTimeoutMs,
    });
    switch (name) {
      case "burst":
      case "burst-10x":
      case "burst-10x-sharded": {
        const shape = name === "burst" ? c.burst : c.burst10x;
        const users = warmup ? Math.min(shape.users, 500) : shape.users;
        const stock = warmup ? Math.ceil(users / 5) : shape.stock;
        await this.rig.mint(users);
        const shards = name === "burst-10x-sharded" ? c.shards : 1;
        const eventId = await this.events.create(name, stock, shards);
        return {
          eventId,
          expected: EXPECTED[name],
          req: {
            type: "burst",
            origin,
            path: claimPath(eventId),
            users,
            connections: Math.min(c.burstConnections, users),
            timeoutMs: c.burstTimeoutMs,
          },
        };
      }
      case "saturate":
      case "saturate-sharded": {
        const req = timed("", "POST", "fresh-user", c.saturateMax);
        await this.rig.mint(req.maxRequests);
        const shards = name === "saturate-sharded" ? c.shards : 1;
        const eventId = await this.events.create(name, c.saturateStock, shards);
        return { eventId, expected: EXPECTED[name], req: { ...req, path: claimPath(eventId) } };
      }
      case "sold-out": {
        const req = timed("", "POST", "fresh-user", c.soldOutMax);
        await this.rig.mint(req.maxRequests);
        const eventId = await this.events.soldOut(name);
        return { eventId, expected: EXPECTED[name], req: { ...req, path: claimPath(eventId) } };
      }
      case "get-event": {
        const eventId = await this.events.create(name, 1_000);
        return {
          expected: EXPECTED[name],
          req: timed(`/v1/events/${eventId}`, "GET", "none", c.plainMax),
        };
      }
      case "touch-nothing":
        return {
          expected: EXPECTED[name],
          req: timed("/problems/sold-out", "GET", "none", c.plainMax),
        };
      case "bare":
        return {
          expected: EXPECTED[name],
          req: timed("/", "GET", "none", c.plainMax, this.rig.bareUrl),
        };
    }
  }

  /** One run (or the warm-up) of a scenario, on a fresh event, once the machine is quiet. */
  async runOnce(name: ScenarioName, warmup: boolean, clkTck: number): Promise<RunResult> {
    const prepared = await this.prepare(name, warmup);
    await this.rig.untilQuiet(clkTck, this.config.patienceMs);
    const req = prepared.req;
    const bound =
      req.type === "burst" ? req.timeoutMs + 60_000 : req.durationMs + req.timeoutMs + 60_000;
    const summary = await this.rig.runLoad(req, bound);
    const errors =
      summary.requests - prepared.expected.reduce((sum, k) => sum + (summary.statuses[k] ?? 0), 0);
    const result: RunResult = { summary, errors, issued: summary.statuses["201"] ?? 0 };
    if (prepared.eventId !== undefined) {
      if (req.type === "burst")
        result.issuedServer = (await this.events.read(prepared.eventId)).issued;
      await this.events.untilDrained(prepared.eventId);
    }
    return result;
  }
}
