import { type Clock, systemClock } from "../../domain/clock.ts";
import { CouponEvent } from "../../durable-objects/coupon-event.ts";
import type { Sinks } from "../../platform/sinks/index.ts";

/**
 * The event's object as the Worker tests run it (bound as `CouponEvent` through
 * test/worker/entry.ts): the production class with its seams opened, set through
 * `runInDurableObject`. Production carries none of these.
 */
export class TestCouponEvent extends CouponEvent {
  /** Where time comes from: tests set a ManualClock. */
  override clock: Clock = systemClock;
  testHooks: {
    afterDelivery?: () => Promise<void>;
    /** Sinks that replace the configured ones by name (null disables one), e.g. failing on command. */
    sinks?: Partial<Sinks>;
  } = {};
  /** Users' claims that reached this object since it started (tests count what the edge sheds). */
  claimCalls = 0;
  /** Calls that carried them (`claimBatch`), so tests can see batches form. */
  claimBatchCalls = 0;
  /** Waiting room: reports of joins, the joins they carried, asks for the draw table. */
  joinReports = 0;
  joinsReported = 0;
  roomTableCalls = 0;

  protected override joinReportArrived(count: number): void {
    this.joinReports += 1;
    this.joinsReported += count;
  }

  protected override roomTableAsked(): void {
    this.roomTableCalls += 1;
  }

  protected override sinks(): Sinks {
    const replaced = this.testHooks.sinks;
    return replaced ? { ...super.sinks(), ...replaced } : super.sinks();
  }

  protected override afterDelivery(): (() => Promise<void>) | undefined {
    return this.testHooks.afterDelivery;
  }

  protected override claimsArrived(count: number): void {
    this.claimCalls += count;
    this.claimBatchCalls += 1;
  }
}
