CREATE TABLE `coupon_events` (
	`id` varchar(64) NOT NULL,
	`name` varchar(200) NOT NULL,
	`total_stock` int unsigned NOT NULL,
	`starts_at` datetime(3) NOT NULL,
	`ends_at` datetime(3),
	`coupon_expires_at` datetime(3),
	`waves` json NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `coupon_events_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `user_coupons` (
	`id` varchar(40) NOT NULL,
	`event_id` varchar(64) NOT NULL,
	`user_id` varchar(128) NOT NULL,
	`status` varchar(16) NOT NULL,
	`issued_at` datetime(3) NOT NULL,
	`expires_at` datetime(3),
	`redeemed_at` datetime(3),
	`order_id` varchar(128),
	`version` int unsigned NOT NULL DEFAULT 1,
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `user_coupons_id` PRIMARY KEY(`id`),
	CONSTRAINT `user_coupons_event_user_uq` UNIQUE(`event_id`,`user_id`)
);
--> statement-breakpoint
CREATE INDEX `user_coupons_user_issued_idx` ON `user_coupons` (`user_id`,`issued_at`);