/**
 * The Worker tests' entry (vitest.config.ts `main`): the production Worker, with the event's
 * object replaced by its test subclass under the same class name, so wrangler.toml's binding and
 * migrations apply unchanged.
 */
export * from "../../worker.ts";
export { default } from "../../worker.ts";
export { TestCouponEvent as CouponEvent } from "./test-coupon-event.ts";
