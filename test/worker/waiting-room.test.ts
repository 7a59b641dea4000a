import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DRAW_GRACE_MS } from "../../domain/admission.ts";
import type { EventView } from "../../domain/views.ts";
import { WaitingRoom } from "../../durable-objects/waiting-room.ts";
import { servicesFor } from "../../platform/services.ts";
import { EventClient, edgeObjectCalls } from "../../src/lib/event-client.ts";
import type { QueueTicket } from "../../src/schemas/queue.ts";
import { admin, api, claim, createEvent, eventStub, getEvent, problemOf } from "./helpers.ts";
import {
  claimWith,
  crowd,
  drawn,
  join,
  moveTo,
  objectCounts,
  reportJoins,
  roomEvent,
  SECOND,
  status,
  statusOf,
  ticketOf,
  users,
} from "./waiting-room-helpers.ts";

/** The lines docs/waiting-room.md gives users, with WebCrypto instead of the service's code. */
async function drawValueByHand(seed: string, userId: string): Promise<string> {
  const bytes = Uint8Array.from(seed.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
  const key = await crypto.subtle.importKey(
    "raw",
    bytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(userId));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("joining is answered at the edge", () => {
  it("a crowd's joins and status polls reach the event's object zero times; the seed stays secret", async () => {
    const { event, clock, t0, opensAt } = await roomEvent({ totalStock: 100 });
    // Before opensAt: not-started with Retry-After.
    clock.set(opensAt - 5 * SECOND);
    const early = await join(event.id, "too-early");
    expect((await problemOf(early)).type).toBe("/problems/not-started");
    expect(early.headers.get("Retry-After")).toBe("5");

    // The last ten seconds before the start (scaled down from 10,000 users for the test runner).
    clock.set(t0 - 10 * SECOND);
    await join(event.id, "warm-up"); // this isolate loads the event's snapshot once
    await reportJoins(event.id);
    const { joinReports: reportsBefore, joinsReported: joinsBefore } = await objectCounts(event.id);
    edgeObjectCalls.set(event.id, 0);
    const crowdIds = users("j", 2_000);
    const tickets = await crowd(crowdIds, 64, async (userId) => {
      const res = await join(event.id, userId);
      expect(res.status).toBe(201);
      const body = (await res.json()) as QueueTicket;
      expect(body).toMatchObject({
        eventId: event.id,
        joinedAt: new Date(t0 - 10 * SECOND).toISOString(),
      });
      return body.ticket;
    });
    const polled = await crowd(crowdIds, 64, async (userId) => {
      const i = crowdIds.indexOf(userId);
      const res = await status(event.id, userId, tickets[i]);
      const body = (await res.json()) as { state: string; position: number | null };
      return { ...body, code: res.status, retryAfter: Number(res.headers.get("Retry-After")) };
    });
    const odd = polled.find((s) => s.code !== 200 || !(s.retryAfter >= 1));
    expect(odd, JSON.stringify(odd)).toBeUndefined();
    expect(polled.every((s) => s.state === "waiting" && s.position === null)).toBe(true);
    // Joining again: 200, the same ticket.
    const again = await join(event.id, "j-7", tickets[7]);
    expect(again.status).toBe(200);
    expect(((await again.json()) as QueueTicket).ticket).toBe(tickets[7]);

    // The only calls the edge made are the batched join reports (every JOIN_REPORT_MS while
    // joins come in): not one per join, not one per poll.
    await reportJoins(event.id);
    const counts = await objectCounts(event.id);
    const calls = edgeObjectCalls.get(event.id) ?? -1;
    edgeObjectCalls.delete(event.id);
    expect(calls - (counts.joinReports - reportsBefore)).toBe(0);
    expect(counts.joinsReported - joinsBefore).toBe(2_000);
    expect(counts.joinReports - reportsBefore).toBeLessThanOrEqual(30);
    expect(counts.claimCalls).toBe(0);
    expect(counts.roomTableCalls).toBe(0);

    // The seed is nowhere before the start: not in the event, the object's snapshot or its stats.
    const before = await getEvent(event.id);
    expect(before.queue).toMatchObject({ seed: null, joined: 2_001 });
    const seed = await runInDurableObject(eventStub(event.id), (o, state) => {
      const hidden = JSON.stringify([o.snapshot(), o.stats()]);
      const row = state.storage.sql.exec<{ seed: string }>("SELECT seed FROM room").one();
      expect(hidden).not.toContain(row.seed);
      return row.seed;
    });
    expect(JSON.stringify(before)).not.toContain(seed);
    const after = await moveTo(event.id, clock, t0);
    expect(after.queue?.seed).toBe(seed);
  });
});

describe("the draw", () => {
  it("places early joiners by HMAC(seed, userId), stable across isolates and restarts; late joiners after", async () => {
    const { event, clock, t0 } = await roomEvent({ totalStock: 10 });
    clock.set(t0 - 5 * SECOND);
    const early = users("d", 40);
    const tickets = new Map<string, string>();
    for (const userId of early) tickets.set(userId, await ticketOf(event.id, userId));
    // Joins after the start come after every early joiner, in joining order.
    clock.set(t0 + 500);
    const late = ["late-b", "late-a", "late-c"];
    for (const userId of late) {
      tickets.set(userId, await ticketOf(event.id, userId));
      await reportJoins(event.id);
    }
    const view = await drawn(event.id, clock, t0);
    const seed = view.queue?.seed;
    if (!seed) throw new Error("no seed after the start");
    expect(view.queue?.seedCommitment).toBe(
      [
        ...new Uint8Array(
          await crypto.subtle.digest(
            "SHA-256",
            Uint8Array.from(seed.match(/../g) ?? [], (h) => Number.parseInt(h, 16)),
          ),
        ),
      ]
        .map((b) => b.toString(16).padStart(2, "0"))
        .join(""),
    );

    const places = new Map<string, number>();
    for (const userId of [...early, ...late]) {
      const s = await statusOf(event.id, userId, tickets.get(userId) as string);
      places.set(userId, s.position as number);
    }
    // A permutation of 1..43; early ones recomputed from the seed alone.
    expect([...places.values()].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 43 }, (_, i) => i + 1),
    );
    const values = new Map(
      await Promise.all(early.map(async (u) => [u, await drawValueByHand(seed, u)] as const)),
    );
    for (const userId of early) {
      const mine = values.get(userId) as string;
      expect(places.get(userId)).toBe(
        1 + early.filter((u) => (values.get(u) as string) < mine).length,
      );
    }
    expect(late.map((u) => places.get(u))).toEqual([41, 42, 43]);

    // Another isolate (a fresh client with its own snapshots and table) gives the same places.
    const other = new EventClient(env, servicesFor(env));
    for (const userId of [...early, ...late]) {
      const answer = await other.queueStatus(event.id, userId);
      if (answer === null || answer === "no-room") throw new Error("no room");
      expect(answer.status.position).toBe(places.get(userId));
    }
    // A restarted object (its room loaded from storage again) keeps every place.
    await runInDurableObject(eventStub(event.id), (_o, state) => {
      const reloaded = new WaitingRoom(state.storage.sql);
      for (const [userId, place] of places) expect(reloaded.placeOf(userId)).toBe(place);
    });
  });
});

describe("admission by stock", () => {
  it("never admits more than stock + margin at once, issues exactly the stock, then tells everyone sold-out", async () => {
    const S = 20;
    const margin = 5;
    const { event, clock, t0 } = await roomEvent({ totalStock: S, margin });
    clock.set(t0 - SECOND);
    const crowdIds = users("s", 150);
    const tickets = await crowd(crowdIds, 32, (u) => ticketOf(event.id, u));
    const ticket = (u: string) => tickets[crowdIds.indexOf(u)] as string;
    await drawn(event.id, clock, t0);

    let issued = 0;
    let maxAdmitted = 0;
    const done = new Set<string>();
    for (let round = 0; round < 50 && issued < S; round++) {
      const statuses = await crowd(crowdIds, 32, async (u) => ({
        u,
        s: await statusOf(event.id, u, ticket(u)),
      }));
      const admitted = statuses.filter(({ u, s }) => s.state === "admitted" && !done.has(u));
      maxAdmitted = Math.max(maxAdmitted, admitted.length);
      expect(admitted.length).toBeLessThanOrEqual(S - issued + margin);
      // Not admitted: 409 queued with Retry-After, decided at the edge.
      const waiting = statuses.find(({ s }) => s.state === "waiting");
      if (waiting) {
        const res = await claimWith(event.id, waiting.u, ticket(waiting.u));
        expect((await problemOf(res)).type).toBe("/problems/queued");
        expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
      }
      for (const { u } of admitted) {
        const res = await claimWith(event.id, u, ticket(u));
        if (res.status === 201) issued += 1;
        else expect((await problemOf(res)).type).toBe("/problems/sold-out");
        done.add(u);
      }
    }
    expect(issued).toBe(S);
    expect(maxAdmitted).toBe(S + margin);
    // The last coupon's answer already told this isolate: everyone still waiting is sold-out.
    const after = await crowd(crowdIds, 32, (u) => statusOf(event.id, u, ticket(u)));
    expect(after.every((s) => s.state === "sold-out")).toBe(true);
    expect(await getEvent(event.id)).toMatchObject({ issued: S, state: "sold-out" });
    // A holder still gets its coupon back.
    const holder = [...done][0] as string;
    expect((await claimWith(event.id, holder, ticket(holder))).status).toBe(200);
    // That answer brought the final holders to this isolate: a holder without its ticket gets
    // its coupon back too, and anyone else without one is still refused at the edge.
    expect((await claimWith(event.id, holder, undefined)).status).toBe(200);
    const stranger = crowdIds.find((u) => !done.has(u)) as string;
    expect((await problemOf(await claimWith(event.id, stranger, undefined))).type).toBe(
      "/problems/sold-out",
    );
  });

  it("an unused admission lapses and the next place is admitted", async () => {
    const { event, clock, t0 } = await roomEvent({ totalStock: 3, admitSeconds: 30 });
    clock.set(t0 - SECOND);
    const crowdIds = users("l", 6);
    const tickets = new Map<string, string>();
    for (const u of crowdIds) tickets.set(u, await ticketOf(event.id, u));
    await drawn(event.id, clock, t0);
    const byPlace = new Map<number, string>();
    for (const u of crowdIds)
      byPlace.set((await statusOf(event.id, u, tickets.get(u) as string)).position as number, u);
    const at = (p: number) => byPlace.get(p) as string;
    expect((await statusOf(event.id, at(1), tickets.get(at(1)) as string)).state).toBe("admitted");
    expect((await statusOf(event.id, at(4), tickets.get(at(4)) as string)).state).toBe("waiting");
    // Places 2 and 3 claim; place 1 lets its admission run out.
    expect((await claimWith(event.id, at(2), tickets.get(at(2)))).status).toBe(201);
    expect((await claimWith(event.id, at(3), tickets.get(at(3)))).status).toBe(201);
    const admittedAt = t0 + DRAW_GRACE_MS + 1;
    const after = await moveTo(event.id, clock, admittedAt + 30 * SECOND);
    // Places 1..3 ran out; 2 and 3 claimed: one admission lapsed unused.
    expect(after.queue).toMatchObject({ lapsed: 1 });
    const lapsed = await claimWith(event.id, at(1), tickets.get(at(1)));
    expect((await problemOf(lapsed)).type).toBe("/problems/queued");
    const next = await statusOf(event.id, at(4), tickets.get(at(4)) as string);
    expect(next).toMatchObject({ state: "admitted", position: 4, admittedThrough: 4 });
    expect((await statusOf(event.id, at(1), tickets.get(at(1)) as string)).lapsed).toBe(true);
    expect((await claimWith(event.id, at(4), tickets.get(at(4)))).status).toBe(201);
  });
});

describe("tickets", () => {
  it("are useless to another user or event, and a forged or altered one is refused", async () => {
    const { event, clock, t0 } = await roomEvent({ totalStock: 5 });
    const other = await roomEvent({ totalStock: 5 });
    other.clock.set(other.opensAt);
    clock.set(t0 - SECOND);
    const alice = await ticketOf(event.id, "alice");
    await ticketOf(event.id, "bob");
    const elsewhere = await ticketOf(other.event.id, "alice");
    await drawn(event.id, clock, t0);
    expect((await status(event.id, "alice", alice)).status).toBe(200);
    expect((await problemOf(await status(event.id, "alice"))).type).toBe("/problems/unauthorized");
    expect((await problemOf(await status(event.id, "bob", alice))).type).toBe(
      "/problems/not-found",
    );
    expect((await problemOf(await status(event.id, "alice", elsewhere))).type).toBe(
      "/problems/not-found",
    );
    const altered = `${alice.slice(0, -2)}${alice.endsWith("A") ? "BB" : "AA"}`;
    expect((await problemOf(await status(event.id, "alice", altered))).type).toBe(
      "/problems/not-found",
    );
    const forged = alice.replace(/^v1\.[0-9a-z]+\./, "v1.0.");
    expect((await problemOf(await status(event.id, "alice", forged))).type).toBe(
      "/problems/not-found",
    );
    // A claim without a valid ticket of one's own is 409 queued, whatever the ticket is.
    for (const ticket of [undefined, altered, elsewhere]) {
      const res = await claimWith(event.id, "alice", ticket);
      expect((await problemOf(res)).type).toBe("/problems/queued");
      expect(res.headers.get("Retry-After")).not.toBeNull();
    }
    expect((await problemOf(await claimWith(event.id, "bob", alice))).type).toBe(
      "/problems/queued",
    );
    // The object checks admission too: a claim straight to it without admission is refused.
    const direct = await eventStub(event.id).claimBatch(["mallory"]);
    if (direct.outcome !== "decided") throw new Error("unknown event");
    expect(direct.results[0]).toMatchObject({ outcome: "refused", refusal: { slug: "queued" } });
    // The edge's `queued` answers are counted in the event's stats too (reported in batches).
    const stats = (await (
      await api(`/v1/events/${event.id}/stats`, { headers: admin() })
    ).json()) as { claims: { rejected: Record<string, number> } };
    expect(stats.claims.rejected.queued).toBeGreaterThanOrEqual(5);
    expect((await claimWith(event.id, "alice", alice)).status).toBe(201);
  });
});

describe("pause, resume and waves with a room", () => {
  it("a paused event admits nobody; resume admits what the stock serves; a wave admits more", async () => {
    const { event, clock, t0 } = await roomEvent({
      totalStock: 4,
      admitSeconds: 30,
      waves: [
        { offset: 0, quantity: 2 },
        { offset: 60 * SECOND, quantity: 2 },
      ],
    });
    clock.set(t0 - SECOND);
    const crowdIds = users("p", 6);
    const tickets = new Map<string, string>();
    for (const u of crowdIds) tickets.set(u, await ticketOf(event.id, u));
    const start = await drawn(event.id, clock, t0);
    expect(start.queue?.admittedThrough).toBe(2);
    const byPlace = new Map<number, string>();
    for (const u of crowdIds)
      byPlace.set((await statusOf(event.id, u, tickets.get(u) as string)).position as number, u);
    const at = (p: number) => byPlace.get(p) as string;
    const claimAt = (p: number) => claimWith(event.id, at(p), tickets.get(at(p)));

    const paused = await api(`/v1/events/${event.id}/pause`, { method: "POST", headers: admin() });
    expect(paused.status).toBe(200);
    expect((await problemOf(await claimAt(1))).type).toBe("/problems/paused");
    // Admissions 1 and 2 run out while paused: nobody new is admitted.
    const later = await moveTo(event.id, clock, t0 + DRAW_GRACE_MS + 31 * SECOND);
    expect(later).toMatchObject({ state: "paused", queue: { admittedThrough: 2 } });
    const resumed = await api(`/v1/events/${event.id}/resume`, {
      method: "POST",
      headers: admin(),
    });
    expect(((await resumed.json()) as EventView).queue?.admittedThrough).toBe(4);
    expect((await claimAt(3)).status).toBe(201);
    expect((await claimAt(4)).status).toBe(201);
    // The first wave is gone: nobody more is admitted until the next.
    expect((await getEvent(event.id)).queue?.admittedThrough).toBe(4);
    expect((await problemOf(await claimAt(5))).type).toBe("/problems/queued");
    const wave = await moveTo(event.id, clock, t0 + 60 * SECOND);
    expect(wave).toMatchObject({ released: 4, queue: { admittedThrough: 6 } });
    expect((await claimAt(5)).status).toBe(201);
  });
});

describe("an event without a room", () => {
  it("is unchanged: queue is null, claims need no ticket, the room's routes are 404", async () => {
    const event = await createEvent();
    expect(event.queue).toBeNull();
    expect((await claim(event.id, "plain")).status).toBe(201);
    expect((await problemOf(await join(event.id, "plain"))).type).toBe("/problems/not-found");
    const res = await api(`/v1/events/${event.id}/queue/me`, { headers: {} });
    expect(res.status).toBe(401);
  });
});
