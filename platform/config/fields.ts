/**
 * The building blocks of settings: how a binding's text becomes a value, and how an area of the
 * configuration (a `Section`) declares its settings. Plain TypeScript and zod only, so Node can
 * import it (`npm start` validates the bindings before workerd starts).
 */
import { z } from "zod";

/** An absent binding and an empty one (`NAME=` in .dev.vars) both mean "not set". */
export const unsetIfEmpty = (value: unknown) => (value === "" ? undefined : value);

export const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess(unsetIfEmpty, schema.optional());

/** A setting with a default when unset or empty. */
export const withDefault = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema);

const httpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: `must be an http(s) URL (${what})` });

/** Loopback hosts (the local cloud): the only place a secret may travel over plain http. */
export function isLoopback(hostname: string): boolean {
  return (
    hostname === "localhost" ||
    hostname === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/** A URL that carries a secret (in it, or in the requests sent to it): https, except on loopback. */
export const secretUrl = (what: string) =>
  httpUrl(what).refine((url) => {
    try {
      const { protocol, hostname } = new URL(url);
      return protocol === "https:" || isLoopback(hostname);
    } catch {
      return true; // not a URL at all: already reported
    }
  }, "must be https:// (plain http only on loopback: localhost, 127.x.x.x, [::1])");

/** A whole number in `min..max`, `fallback` when unset. */
export const int = (min: number, max: number, fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string({ error: "must be a whole number" })
      .regex(/^\d+$/, "must be a whole number")
      .default(String(fallback))
      .transform(Number)
      .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`)),
  );

/**
 * One area of the configuration (auth, Redis, a sink, ...): its settings by binding name, and
 * what the service reads from them once parsed.
 */
export interface Section<S extends z.ZodRawShape, T> {
  settings: S;
  /** Settings that only make sense together: all of them or none. */
  together?: readonly (readonly (keyof S & string)[])[];
  /**
   * Rules across settings. Runs even when single settings failed (so one error lists every
   * problem), so a value may be missing or of the wrong type.
   */
  check?: (
    s: Partial<Record<keyof S, unknown>>,
    issue: (name: keyof S & string, message: string) => void,
  ) => void;
  read: (s: z.output<z.ZodObject<S>>) => T;
}

/** Declares a section (only to infer its types). */
export const section = <S extends z.ZodRawShape, T>(def: Section<S, T>): Section<S, T> => def;
