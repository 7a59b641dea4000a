/**
 * The open model the crowd and the waiting room share (run.ts, room.ts): every visitor starts
 * out not yet arrived, and each visit starts at its planned time whatever the service is doing.
 */
import type { VisitorData } from "./run.ts";

/** A visitor who has not arrived yet: no claims, no coupons, no outcome. */
export const notArrived = (user: string): VisitorData => ({
  user,
  arriveAt: Number.NaN,
  leaveAt: Number.NaN,
  claims: 0,
  couponIds: [],
  outcome: "",
  readBackMismatch: false,
});

/**
 * The open model: starts `visit(i)` at `arrivals[i]` ms after `origin`, however busy the service
 * is, and resolves once every visit has finished.
 */
export async function arriveOnSchedule(
  arrivals: number[],
  origin: number,
  visit: (i: number) => Promise<void>,
): Promise<void> {
  const running: Promise<void>[] = [];
  let next = 0;
  await new Promise<void>((done) => {
    const launch = () => {
      const now = performance.now() - origin;
      while (next < arrivals.length && (arrivals[next] as number) <= now) {
        running.push(visit(next++));
      }
      if (next >= arrivals.length) return done();
      setTimeout(launch, Math.max(0, (arrivals[next] as number) - now));
    };
    launch();
  });
  await Promise.all(running);
}
