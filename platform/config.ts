/**
 * The service's whole configuration: one zod schema made of the areas' sections (platform/config/,
 * and each sink's own in platform/sinks/), parsed once per isolate from the bindings
 * (platform/services.ts). The Worker, its Durable Objects and `npm start` (which validates the
 * bindings in Node before workerd starts) all read it through here. Plain TypeScript and zod only
 * (and the sinks' adapters), so Node can import it.
 */
import { z } from "zod";
import { alerts } from "./config/alerts.ts";
import { analytics } from "./config/analytics.ts";
import { auth } from "./config/auth.ts";
import { deploy } from "./config/deploy.ts";
import type { Section } from "./config/fields.ts";
import { http } from "./config/http.ts";
import { rateLimit } from "./config/rate-limit.ts";
import { redis } from "./config/redis.ts";
import { sinks } from "./config/sinks.ts";
import { turnstile } from "./config/turnstile.ts";

export { isLoopback } from "./config/fields.ts";
export type { RateBudget, RateLimitConfig } from "./config/rate-limit.ts";

/** Every area, in the order its settings and problems are listed. */
const SECTIONS = {
  auth,
  http,
  sinks,
  redis,
  rateLimit,
  turnstile,
  analytics,
  alerts,
  deploy,
} as const;

type AnySection = Section<z.ZodRawShape, unknown>;
const sections: readonly AnySection[] = Object.values(SECTIONS) as AnySection[];

/**
 * Every setting the service reads, by binding name. Unknown bindings (the Durable Object
 * namespace, test-only ones) are ignored.
 */
export const settingsSchema = z.object(
  Object.assign({}, ...sections.map((s) => s.settings)) as z.ZodRawShape,
);

/** The binding names the service reads (what `npm start` passes on from the environment). */
export const SETTINGS: readonly string[] = Object.keys(settingsSchema.shape);

const configSchema = settingsSchema.superRefine(
  (s, ctx) => {
    if (typeof s !== "object" || s === null) return;
    const issue = (name: string, message: string) =>
      ctx.addIssue({ code: "custom", path: [name], message });
    for (const group of sections.flatMap((section) => section.together ?? [])) {
      const set = group.filter((name) => s[name] !== undefined);
      if (set.length === 0 || set.length === group.length) continue;
      for (const name of group.filter((n) => s[n] === undefined)) {
        issue(
          name,
          `is required when ${set.join(" and ")} ${set.length > 1 ? "are" : "is"} set (${group.join(", ")} go together)`,
        );
      }
    }
    for (const section of sections) section.check?.(s, issue);
    // Run even when single settings failed, so one error lists every problem at once.
  },
  { when: () => true },
);

/** What the service reads, by area. */
export type Config = {
  readonly [Area in keyof typeof SECTIONS]: ReturnType<(typeof SECTIONS)[Area]["read"]>;
};

/**
 * Invalid configuration. Its message names each wrong setting and the rule it breaks, never a
 * value (they are secrets). Over HTTP it is a 503 `unavailable` whose detail names nothing.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** `NAME: rule` for each problem. */
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.problems = problems;
  }

  /** The names of the settings at fault. */
  get settings(): string[] {
    return [...new Set(this.problems.map((p) => p.split(":", 1)[0] as string))];
  }
}

/** Parses the bindings; throws a `ConfigError` naming every wrong setting. */
export function parseConfig(bindings: object): Config {
  const parsed = configSchema.safeParse(bindings);
  if (!parsed.success) {
    // Names and rules only: zod's own messages never quote the input, and ours do not either.
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "(bindings)"}: ${i.message}`),
    );
  }
  // Every section's settings are in the schema, so each reads its own from the parsed whole.
  const s = parsed.data as never;
  return Object.fromEntries(
    Object.entries(SECTIONS).map(([area, section]) => [area, section.read(s)]),
  ) as Config;
}
