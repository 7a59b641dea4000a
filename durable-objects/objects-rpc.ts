import { WorkerEntrypoint } from "cloudflare:workers";
import type { CouponEvent } from "./coupon-event.ts";
import type { EventDirectory } from "./event-directory.ts";

/** The objects' RPC methods a front may call; anything else is refused at this boundary. */
const EVENT_METHODS = new Set<string>([
  "define",
  "snapshot",
  "setPaused",
  "claim",
  "claimBatch",
  "claimOf",
  "coupon",
  "redeem",
  "hold",
  "restore",
  "countRefusals",
  "stats",
  "deadLetters",
  "requeueDeadLetters",
] satisfies (keyof CouponEvent)[]);
const DIRECTORY_METHODS = new Set<string>(["register", "has"] satisfies (keyof EventDirectory)[]);

type Invocable = Record<string, (...args: unknown[]) => unknown>;

/**
 * The objects' process's door when the fronts run in other processes (local/worker.ts: a workerd
 * socket with `capnpConnectHost`, reached by each front's `OBJECTS` binding over one Cap'n Proto
 * connection). A Durable Object namespace cannot be bound across processes, JS RPC can: each call
 * names the object and the method, and is forwarded to the object's stub here. On Cloudflare the
 * fronts use the namespaces directly and this entrypoint is never called.
 */
export class ObjectsRpc extends WorkerEntrypoint<Env> {
  event(eventId: string, method: string, args: unknown[]): Promise<unknown> {
    if (!EVENT_METHODS.has(method)) throw new TypeError(`no event method ${method}`);
    const ns = this.env.COUPON_EVENT;
    const stub = ns.get(ns.idFromName(eventId)) as unknown as Invocable;
    return Promise.resolve(stub[method]?.(...args));
  }

  directory(shard: string, method: string, args: unknown[]): Promise<unknown> {
    if (!DIRECTORY_METHODS.has(method)) throw new TypeError(`no directory method ${method}`);
    const ns = this.env.EVENT_DIRECTORY;
    const stub = ns.get(ns.idFromName(shard)) as unknown as Invocable;
    return Promise.resolve(stub[method]?.(...args));
  }
}
