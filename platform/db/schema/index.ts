export * from "./coupon-events.ts";
export * from "./user-coupons.ts";
