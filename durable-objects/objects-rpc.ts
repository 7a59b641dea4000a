import { WorkerEntrypoint } from "cloudflare:workers";
import { type Placement, placementOf, placementSchema, UNPLACED } from "../domain/placement.ts";
import { placedId } from "../platform/object-placement.ts";
import type { CouponEvent } from "./coupon-event.ts";
import type { EventDirectory } from "./event-directory.ts";

/** The objects' RPC methods a front may call; anything else is refused at this boundary. */
const EVENT_METHODS = new Set<string>([
  "define",
  "snapshot",
  "setPaused",
  "claimBatch",
  "claimShare",
  "currentSnapshot",
  "currentStats",
  "claimOf",
  "coupon",
  "redeem",
  "hold",
  "restore",
  "countRefusals",
  "stats",
  "deadLetters",
  "requeueDeadLetters",
  "reportJoins",
  "roomTable",
  "roomPlace",
  "currentDeadLetters",
  "requeueAllDeadLetters",
] satisfies (keyof CouponEvent)[]);
const DIRECTORY_METHODS = new Set<string>([
  "register",
  "has",
  "placement",
] satisfies (keyof EventDirectory)[]);

type Invocable = Record<string, (...args: unknown[]) => unknown>;

/**
 * Object ids by name: `idFromName` hashes the name on every call, and an id (unlike a stub) is no
 * I/O object, so one per name serves every request. Bounded: the oldest name goes first.
 */
const ids = new Map<string, DurableObjectId>();
const MAX_IDS = 10_000;

/**
 * `key` names the namespace and the object, `name` is what the namespace hashes (in
 * `jurisdiction`'s namespace when there is one: platform/object-placement.ts).
 */
function idOf(
  ns: DurableObjectNamespace,
  key: string,
  name: string,
  jurisdiction: Placement["jurisdiction"] = null,
): DurableObjectId {
  let id = ids.get(key);
  if (!id) {
    id = placedId(ns, name, jurisdiction);
    if (ids.size >= MAX_IDS) ids.delete(ids.keys().next().value as string);
    ids.set(key, id);
  }
  return id;
}

/**
 * The objects' process's door when the fronts run in other processes (local/worker.ts: a workerd
 * socket with `capnpConnectHost`, reached by each front's `OBJECTS` binding over one Cap'n Proto
 * connection). A Durable Object namespace cannot be bound across processes, JS RPC can: each call
 * names the object and the method, and is forwarded to the object's stub here. On Cloudflare the
 * fronts use the namespaces directly and this entrypoint is never called.
 */
export class ObjectsRpc extends WorkerEntrypoint<Env> {
  event(
    eventId: string,
    method: string,
    args: unknown[],
    placement: Placement = UNPLACED,
  ): Promise<unknown> {
    if (!EVENT_METHODS.has(method)) throw new TypeError(`no event method ${method}`);
    // Parsed again: RPC is a boundary (an unknown region or jurisdiction is refused here).
    const { region, jurisdiction } = placementOf(placementSchema.parse(placement));
    const ns = this.env.COUPON_EVENT;
    const id = idOf(ns, `event:${jurisdiction ?? ""}:${eventId}`, eventId, jurisdiction);
    return forward(ns.get(id, region ? { locationHint: region } : undefined), method, args);
  }

  directory(shard: string, method: string, args: unknown[]): Promise<unknown> {
    if (!DIRECTORY_METHODS.has(method)) throw new TypeError(`no directory method ${method}`);
    const ns = this.env.EVENT_DIRECTORY;
    return forward(ns.get(idOf(ns, `directory:${shard}`, shard)), method, args);
  }
}

/**
 * The stub's answer, passed on as plain data. The RPC result is disposed here (it would warn
 * "An RPC result was not disposed properly" when collected); the data stays for the caller.
 */
async function forward(stub: object, method: string, args: unknown[]): Promise<unknown> {
  const result = await (stub as Invocable)[method]?.(...args);
  try {
    return result;
  } finally {
    (result as Partial<Disposable> | undefined)?.[Symbol.dispose]?.();
  }
}
