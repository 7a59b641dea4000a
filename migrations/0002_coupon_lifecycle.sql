ALTER TABLE `user_coupons` MODIFY COLUMN `id` varbinary(96) NOT NULL;--> statement-breakpoint
ALTER TABLE `user_coupons` ADD `held_order_id` varbinary(512);--> statement-breakpoint
ALTER TABLE `user_coupons` ADD `held_until` datetime(3);