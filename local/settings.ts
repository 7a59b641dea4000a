/**
 * The bindings `npm start` gives workerd, and their validation with the Worker's own schema
 * (platform/config.ts) in Node, so an invalid configuration stops `npm start` at once, naming the
 * setting, instead of a Worker that answers 503 to everything.
 */
import { type Config, ConfigError, parseConfig, SETTINGS } from "../platform/config.ts";
import { devVarsFile, ensureDevVars, localSettings } from "./dev-vars.ts";
import type { LocalCloud } from "./stack-types.ts";
import { workerBindings } from "./worker-bindings.ts";

/** Where the sinks are: the local cloud's own endpoints and credentials when it runs. */
export const CLOUD_SETTINGS: readonly string[] = [
  "DATABASE_URL",
  "KAFKA_PROTOCOL",
  "KAFKA_REST_URL",
  "KAFKA_REST_USERNAME",
  "KAFKA_REST_PASSWORD",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
];

export interface StackSettings {
  /** Every setting the Worker reads that the environment or `.dev.vars` sets. */
  values: Record<string, string>;
  /** The `.dev.vars` read (and written when it was missing). */
  file: string;
  created: boolean;
}

/** Reads the settings; writes `.dev.vars` with random secrets first when there is none. */
export function readStackSettings(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
): StackSettings {
  const file = devVarsFile(root, env);
  const created = ensureDevVars(file);
  return { values: localSettings(file, SETTINGS, env), file, created };
}

export interface StackBindings {
  bindings: Record<string, string>;
  /** Settings given but not used: the local cloud provides them. */
  ignored: string[];
}

/**
 * What workerd gets: with the local cloud, its endpoints and local defaults, then every other
 * setting from the environment or `.dev.vars` over them; without it (`cloud` null and
 * `withCloud` false), the settings as given, sinks included. `cloud` null with `withCloud` true
 * is the same before the cloud has started: what the user controls, checked before anything starts.
 */
export function stackBindings(
  values: Record<string, string>,
  cloud: LocalCloud | null,
  withCloud: boolean = cloud !== null,
): StackBindings {
  const owned = (name: string) => withCloud && CLOUD_SETTINGS.includes(name);
  const given = Object.entries(values);
  return {
    bindings: {
      ...(cloud ? workerBindings(cloud) : {}),
      ...Object.fromEntries(given.filter(([name]) => !owned(name))),
    },
    ignored: given.filter(([name]) => owned(name)).map(([name]) => name),
  };
}

/** Validates bindings as the Worker will; throws a `ConfigError` naming every wrong setting. */
export function checkBindings(bindings: Record<string, string>): Config {
  return parseConfig(bindings);
}

/**
 * The check `npm start` makes before it starts anything, shared with `npm run token` so a token
 * is never minted from secrets `npm start` would refuse: everything the user controls (with the
 * local cloud, its sink settings are the cloud's and not checked here). Throws an `Error` whose
 * message is `configErrorReport`'s; returns the configuration and the settings given but ignored.
 */
export function checkStackSettings(
  settings: StackSettings,
  withCloud: boolean,
): { config: Config; ignored: string[] } {
  const { bindings, ignored } = stackBindings(settings.values, null, withCloud);
  return { config: validateBindings(bindings, settings.file), ignored };
}

/** `checkBindings`, its `ConfigError` turned into an `Error` with `npm start`'s report. */
export function validateBindings(bindings: Record<string, string>, devVars: string): Config {
  try {
    return checkBindings(bindings);
  } catch (err) {
    throw err instanceof ConfigError ? new Error(configErrorReport(err, devVars)) : err;
  }
}

/** The message `npm start` prints for an invalid configuration (names and rules, no values). */
export function configErrorReport(err: ConfigError, devVars: string): string {
  return [
    "invalid configuration: nothing was started.",
    ...err.problems.map((p) => `  ${p}`),
    `Fix it in the environment or in ${devVars} (see .dev.vars.example and docs/operations.md, "Configuration").`,
  ].join("\n");
}
