ALTER TABLE `coupon_events` MODIFY COLUMN `id` varbinary(64) NOT NULL;--> statement-breakpoint
ALTER TABLE `user_coupons` MODIFY COLUMN `id` varbinary(40) NOT NULL;--> statement-breakpoint
ALTER TABLE `user_coupons` MODIFY COLUMN `event_id` varbinary(64) NOT NULL;--> statement-breakpoint
ALTER TABLE `user_coupons` MODIFY COLUMN `user_id` varbinary(512) NOT NULL;--> statement-breakpoint
ALTER TABLE `user_coupons` MODIFY COLUMN `order_id` varbinary(512);