import { createRoute, z } from "@hono/zod-openapi";
import type { CouponView } from "../../domain/coupon.ts";
import { assertNever } from "../../domain/ledger.ts";
import { eventNotFound, refusalAnswer } from "../lib/event-problems.ts";
import { prebuiltJson } from "../lib/prebuilt-json.ts";
import { newRouter } from "../lib/router.ts";
import { waitUntilOf } from "../lib/wait-until.ts";
import { requireUser } from "../middleware/auth.ts";
import { limitClaimsPerUser } from "../middleware/rate-limit.ts";
import { requireTurnstile, TURNSTILE_HEADER } from "../middleware/turnstile.ts";
import { ProblemError } from "../problems.ts";
import { EventIdParam, json, problem, userEventProblems } from "../schemas/common.ts";
import { CouponSchema } from "../schemas/coupon.ts";
import { QUEUE_TICKET_HEADER, QueueTicketHeader } from "../schemas/queue.ts";
import { presentedTicket } from "./queue.ts";

const user = [{ userToken: [] }];

const claim = createRoute({
  method: "post",
  path: "/v1/events/{id}/claims",
  summary: "Claim a coupon",
  description: `First come, first served. A user holds at most one coupon per event: a retry answers 200 with the same coupon. The body is ignored. When the service runs with Turnstile (\`TURNSTILE_SECRET\`), every claim carries a fresh token from the widget in \`${TURNSTILE_HEADER}\`; a missing, invalid or already used token is 403 \`forbidden\` with \`challenge: "turnstile"\` and \`reason\`, and changes nothing.`,
  tags: ["claims"],
  security: user,
  middleware: [requireUser, limitClaimsPerUser, requireTurnstile] as const,
  request: {
    params: EventIdParam,
    headers: z
      .object({
        [TURNSTILE_HEADER]: z.string().optional().openapi({
          description:
            "A fresh Turnstile token from the widget (single use); required only when the service runs with Turnstile.",
          example: "0.zrSnRHO7h0HwSjSCU8oyzbjEtD8p...",
        }),
      })
      .merge(QueueTicketHeader),
  },
  responses: {
    201: json(CouponSchema, "Issued by this call"),
    200: json(CouponSchema, "This user already holds this coupon"),
    ...userEventProblems,
    403: problem("forbidden: Turnstile is on and the token is missing, invalid or already used"),
    404: problem("not-found"),
    409: problem(
      "sold-out · awaiting-release · not-started · paused · ended · queued (see Retry-After)",
    ),
    429: problem("rate-limited: over this user's or this address's budget (see Retry-After)"),
    503: problem(
      "unavailable: the event is busy, or Turnstile could not be verified; try again after Retry-After",
    ),
  },
});

const myClaim = createRoute({
  method: "get",
  path: "/v1/events/{id}/claims/me",
  summary: "The caller's coupon of this event",
  tags: ["claims"],
  security: user,
  middleware: [requireUser] as const,
  request: { params: EventIdParam },
  responses: {
    200: json(CouponSchema, "The caller's coupon"),
    ...userEventProblems,
    404: problem("not-found: no such event, or the caller holds no coupon of it"),
  },
});

const router = newRouter();
// The claim is documented with its Turnstile header but served without a validator for it: any
// header value is a string, so the check could never fail, and it would read every header of
// every claim into an object. `requireTurnstile` reads the one header itself.
const { middleware: _served, ...documented } = claim;
router.openAPIRegistry.registerPath(documented);
const served = { ...claim, hide: true, request: { params: claim.request.params } };

export const claims = router
  .openapi(served, async (c) => {
    const { id } = c.req.valid("param");
    // Only an event with a waiting room reads it; a ticket is checked where it is presented.
    const hasTicket = c.req.header(QUEUE_TICKET_HEADER)
      ? (await presentedTicket(c, id)) !== null
      : false;
    const result = await c.var.services.events.claim(id, c.var.userId, waitUntilOf(c), hasTicket);
    switch (result.outcome) {
      // The coupon's JSON was built once, in the object (byte-identical to c.json's).
      case "issued":
        return prebuiltJson<CouponView, 201>(c, result.json, 201);
      case "existing":
        return prebuiltJson<CouponView, 200>(c, result.json, 200);
      case "refused":
        return refusalAnswer(c, result.refusal);
      case "unknown-event":
        throw eventNotFound(id);
      default:
        return assertNever(result);
    }
  })
  .openapi(myClaim, async (c) => {
    const { id } = c.req.valid("param");
    const coupon = await c.var.services.events.claimOf(id, c.var.userId);
    if (coupon === undefined) throw eventNotFound(id);
    if (!coupon)
      throw new ProblemError("not-found", { detail: "You hold no coupon of this event." });
    return c.json(coupon, 200);
  });
