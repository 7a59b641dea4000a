import { type Placement, UNPLACED } from "../../domain/placement.ts";
import { placedStub } from "../../platform/object-placement.ts";

/** An event's object as the bindings type it (RPC methods and all), without importing its class. */
export type EventStub = ReturnType<Env["COUPON_EVENT"]["get"]>;
export type DirectoryStub = ReturnType<Env["EVENT_DIRECTORY"]["get"]>;

/**
 * The one seam between the front and the objects. On Cloudflare (and in one workerd process) it
 * is the Durable Object namespaces themselves. Locally with the fronts in processes of their own
 * (local/worker.ts), a namespace cannot cross the process boundary, so each call goes through the
 * objects' process's RPC entrypoint (`OBJECTS`, durable-objects/objects-rpc.ts), which forwards
 * it to the same stub. Nothing above this file knows which.
 *
 * An event's object is found by its id and its placement (region, jurisdiction): the
 * jurisdiction is part of the object's id, so a call without it would reach another object.
 * The directories are never placed (one default namespace, sharded by a hash of the id).
 */
export interface EventObjects {
  event(eventId: string, placement?: Placement): EventStub;
  directory(shard: string): DirectoryStub;
}

export function eventObjects(env: Env): EventObjects {
  const remote = env.OBJECTS;
  if (remote) {
    return {
      event: (eventId, placement = UNPLACED) =>
        forwarding((method, args) => remote.event(eventId, method, args, placement)),
      directory: (shard) => forwarding((method, args) => remote.directory(shard, method, args)),
    };
  }
  return {
    event: (eventId, placement = UNPLACED) => placedStub(env.COUPON_EVENT, eventId, placement),
    directory: (shard) => env.EVENT_DIRECTORY.get(env.EVENT_DIRECTORY.idFromName(shard)),
  };
}

/** A stub whose every method is one forwarded call (the entrypoint checks the method's name). */
function forwarding<T>(call: (method: string, args: unknown[]) => Promise<unknown>): T {
  return new Proxy(
    {},
    {
      get: (_, method) =>
        typeof method === "string" ? (...args: unknown[]) => call(method, args) : undefined,
    },
  ) as T;
}
