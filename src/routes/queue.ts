import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { iso } from "../../domain/views.ts";
import type { HonoEnv } from "../hono-env.ts";
import { eventNotFound, refusalAnswer } from "../lib/event-problems.ts";
import { signTicket, verifyTicket } from "../lib/queue-ticket.ts";
import { newRouter } from "../lib/router.ts";
import { waitUntilOf } from "../lib/wait-until.ts";
import { requireUser } from "../middleware/auth.ts";
import { ProblemError } from "../problems.ts";
import { EventIdParam, json, problem, userEventProblems } from "../schemas/common.ts";
import {
  QUEUE_TICKET_HEADER,
  QueueStatusSchema,
  QueueTicketHeader,
  QueueTicketSchema,
} from "../schemas/queue.ts";

/** What both room routes are: a user's call about one event, carrying its Queue-Ticket. */
const userCallWithTicket = {
  tags: ["queue"],
  security: [{ userToken: [] }],
  middleware: [requireUser],
  request: { params: EventIdParam, headers: QueueTicketHeader },
};

const join = createRoute({
  method: "post",
  path: "/v1/events/{id}/queue",
  summary: "Join the event's waiting room",
  description:
    "From `queue.opensAt`. Answered at the edge: the ticket is signed for this user and event, the join reported to the event in batches. Everyone who joins before `startsAt` is placed by a draw from the published seed (docs/waiting-room.md); later joiners come after them, in joining order. Joining again with the ticket in `Queue-Ticket` answers 200 with the same ticket; the place never depends on which ticket. The body is ignored.",
  ...userCallWithTicket,
  responses: {
    201: json(QueueTicketSchema, "Joined by this call"),
    200: json(QueueTicketSchema, "Already joined: the same ticket"),
    ...userEventProblems,
    404: problem("not-found: no such event, or it has no waiting room"),
    409: problem("not-started · sold-out · ended (see Retry-After)"),
  },
});

const status = createRoute({
  method: "get",
  path: "/v1/events/{id}/queue/me",
  summary: "The caller's place in the waiting room",
  description:
    "Answered at the edge from the event's snapshot and the ticket, never by asking the event per poll. `Retry-After` (while waiting) says when to ask again; it spreads a crowd's polls.",
  ...userCallWithTicket,
  responses: {
    200: json(QueueStatusSchema, "The caller's status"),
    ...userEventProblems,
    401: problem("unauthorized: no token, or no Queue-Ticket header"),
    404: problem("not-found: no such event or room, or a ticket of another user or event"),
  },
});

/** The caller's valid ticket for this event, or null (none, forged, another user's or event's). */
export async function presentedTicket(
  c: Context<HonoEnv>,
  eventId: string,
): Promise<{ ticket: string; joinedAt: number } | null> {
  const ticket = c.req.header(QUEUE_TICKET_HEADER);
  if (!ticket) return null;
  const valid = await verifyTicket(
    c.var.services.config.auth.jwtSecret,
    eventId,
    c.var.userId,
    ticket,
  );
  return valid ? { ticket, joinedAt: valid.joinedAt } : null;
}

const noRoom = (id: string) =>
  new ProblemError("not-found", { detail: `Event "${id}" has no waiting room.` });

export const queue = newRouter()
  .openapi(join, async (c) => {
    const { id } = c.req.valid("param");
    const secret = c.var.services.config.auth.jwtSecret;
    const userId = c.var.userId;
    const answer = await c.var.services.events.join(id, userId, {
      presented: await presentedTicket(c, id),
      sign: (joinedAt) => signTicket(secret, id, userId, joinedAt),
      waitUntil: waitUntilOf(c),
    });
    if (answer === null) throw eventNotFound(id);
    if (answer === "no-room") throw noRoom(id);
    if (answer.outcome === "refused") return refusalAnswer(c, answer.refusal);
    const body = { eventId: id, ticket: answer.ticket, joinedAt: iso(answer.joinedAt) };
    return answer.created ? c.json(body, 201) : c.json(body, 200);
  })
  .openapi(status, async (c) => {
    const { id } = c.req.valid("param");
    if (!c.req.header(QUEUE_TICKET_HEADER)) {
      throw new ProblemError("unauthorized", { detail: "Missing Queue-Ticket header." });
    }
    if (!(await presentedTicket(c, id))) {
      throw new ProblemError("not-found", { detail: "No such ticket for you and this event." });
    }
    const answer = await c.var.services.events.queueStatus(id, c.var.userId, waitUntilOf(c));
    if (answer === null) throw eventNotFound(id);
    if (answer === "no-room") throw noRoom(id);
    if (answer.retryAfter !== null) c.header("Retry-After", String(answer.retryAfter));
    return c.json(answer.status, 200);
  });
