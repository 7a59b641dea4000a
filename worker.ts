/**
 * The Worker's entry (wrangler.toml `main`): the edge app from src/ and the Durable Object classes
 * from durable-objects/, the one module that names both. Neither folder imports the other; both
 * stand on domain/ (types, rules, views) and platform/ (configuration and the cloud's clients).
 */

export { CouponEvent } from "./durable-objects/coupon-event.ts";
export { EventDirectory } from "./durable-objects/event-directory.ts";
export { ObjectsRpc } from "./durable-objects/objects-rpc.ts";
export { default } from "./src/index.ts";
