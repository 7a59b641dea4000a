import type { Jurisdiction, Placement } from "../domain/placement.ts";

/**
 * An event's object by name, in its jurisdiction and with its location hint. Used by the front
 * (src/lib/event-objects.ts) and by the objects' RPC door (durable-objects/objects-rpc.ts), so
 * both reach the same object for the same event.
 *
 * workerd has no jurisdictions (`namespace.jurisdiction("eu")` throws "Jurisdiction restrictions
 * are not implemented in workerd"): there, and only there, the object is named
 * `<jurisdiction>:<name>` in the plain namespace instead (":" is in no event id, so it can never
 * be another event's object), which keeps the routing testable end to end. Location hints are
 * accepted by workerd and ignored.
 */
export function placedStub<T extends Rpc.DurableObjectBranded | undefined>(
  ns: DurableObjectNamespace<T>,
  name: string,
  placement: Placement,
): DurableObjectStub<T> {
  const options = placement.region ? { locationHint: placement.region } : undefined;
  return ns.get(placedId(ns, name, placement.jurisdiction), options);
}

/** The object's id: in the jurisdiction's namespace when it has one. */
export function placedId(
  ns: DurableObjectNamespace<Rpc.DurableObjectBranded | undefined>,
  name: string,
  jurisdiction: Jurisdiction | null,
): DurableObjectId {
  if (!jurisdiction) return ns.idFromName(name);
  if (!workerdOnly.has(ns)) {
    try {
      return ns.jurisdiction(jurisdiction).idFromName(name);
    } catch (err) {
      if (!isUnsupported(err)) throw err;
      workerdOnly.add(ns);
    }
  }
  return ns.idFromName(`${jurisdiction}:${name}`);
}

/** Namespaces found to have no jurisdictions (workerd), so the stand-in is used at once. */
const workerdOnly = new WeakSet<object>();

function isUnsupported(err: unknown): boolean {
  return err instanceof Error && /not implemented in workerd/i.test(err.message);
}
