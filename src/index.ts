import { buildApp } from "./app.ts";

export { CouponEvent } from "../durable-objects/coupon-event.ts";
export { EventDirectory } from "../durable-objects/event-directory.ts";

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
