import type { EventSnapshot, StatsView } from "../domain/views.ts";
import { publishOutboxSummary } from "../platform/outbox-registry.ts";
import type { PlatformServices } from "../platform/services.ts";
import { publishSnapshot } from "../platform/snapshot-registry.ts";
import { withTimeout } from "../platform/timeout.ts";

/** The outbox summary for `GET /health` is published at most this often while rows are pending. */
const SUMMARY_EVERY_MS = 1_000;
/** The event's snapshot is published to Redis at most this often while it changes. */
const SNAPSHOT_EVERY_MS = 250;
const PUBLISH_TIMEOUT_MS = 2_000;

/**
 * What the object publishes to Redis for many isolates to read cheaply: the event's snapshot
 * (reads and certain refusals at the edge) and its outbox summary (health, metrics). Best effort
 * and throttled: a slow or absent Redis never reaches a claim or the drain.
 */
export class Publications {
  readonly #services: PlatformServices;
  readonly #waitUntil: (work: Promise<unknown>) => void;
  readonly #snapshot: () => EventSnapshot | null;
  readonly #stats: () => StatsView | null;
  #snapshotPublish: ReturnType<typeof setTimeout> | null = null;
  #snapshotPublishedAt = 0;
  /** A change arrived while a publication was under way: publish again after it. */
  #snapshotDirty = false;
  #summaryPublishedAt = 0;
  #publishing = false;
  #republishIdle = false;

  constructor(opts: {
    services: PlatformServices;
    waitUntil: (work: Promise<unknown>) => void;
    snapshot: () => EventSnapshot | null;
    stats: () => StatsView | null;
  }) {
    this.#services = opts.services;
    this.#waitUntil = opts.waitUntil;
    this.#snapshot = opts.snapshot;
    this.#stats = opts.stats;
  }

  /** At most every SNAPSHOT_EVERY_MS while the event changes. */
  snapshotSoon(): void {
    if (!this.#services.redis) return;
    if (this.#snapshotPublish) {
      this.#snapshotDirty = true;
      return;
    }
    this.#snapshotDirty = false;
    const wait = Math.max(0, this.#snapshotPublishedAt + SNAPSHOT_EVERY_MS - Date.now());
    this.#snapshotPublish = setTimeout(() => {
      const redis = this.#services.redis;
      const snapshot = this.#snapshot();
      this.#snapshotPublishedAt = Date.now();
      if (!redis || !snapshot) {
        this.#snapshotPublish = null;
        return;
      }
      this.#waitUntil(
        withTimeout(publishSnapshot(redis, snapshot), PUBLISH_TIMEOUT_MS, "event snapshot")
          .catch((err: unknown) => {
            console.warn(
              JSON.stringify({ level: "warn", msg: "snapshot not published", error: String(err) }),
            );
          })
          .finally(() => {
            this.#snapshotPublish = null;
            if (this.#snapshotDirty) this.snapshotSoon();
          }),
      );
    }, wait);
  }

  /** One at a time, at most every SUMMARY_EVERY_MS unless the outbox just went `idle`. */
  summary(idle: boolean): void {
    const redis = this.#services.redis;
    const now = Date.now();
    if (!redis) return;
    if (this.#publishing) {
      // The final, idle state must not be lost behind an earlier summary still on its way.
      this.#republishIdle ||= idle;
      return;
    }
    if (!idle && now - this.#summaryPublishedAt < SUMMARY_EVERY_MS) return;
    const stats = this.#stats();
    if (!stats) return;
    const summary = { eventId: stats.event.id, at: now, outbox: stats.outbox, sinks: stats.sinks };
    this.#publishing = true;
    this.#summaryPublishedAt = now;
    this.#waitUntil(
      withTimeout(publishOutboxSummary(redis, summary), PUBLISH_TIMEOUT_MS, "outbox summary")
        .catch((err: unknown) => {
          this.#summaryPublishedAt = 0;
          console.warn(
            JSON.stringify({
              level: "warn",
              msg: "outbox summary not published",
              error: String(err),
            }),
          );
        })
        .finally(() => {
          this.#publishing = false;
          if (this.#republishIdle) {
            this.#republishIdle = false;
            this.summary(true);
          }
        }),
    );
  }
}
