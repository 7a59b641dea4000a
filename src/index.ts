import { buildApp } from "./app.ts";

export { CouponEvent } from "../durable-objects/coupon-event.ts";

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
