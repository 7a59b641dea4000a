import { z } from "zod";
import { ProblemError } from "./problems.ts";

/** The Worker's configuration, validated once per isolate from the bindings. */
const configSchema = z.object({
  JWT_SECRET: z.string().min(32, "JWT_SECRET must be at least 32 characters"),
  ADMIN_TOKEN: z.string().min(16, "ADMIN_TOKEN must be at least 16 characters"),
  /** Comma-separated origins allowed by CORS; `*` (the default) suits bearer-token clients. */
  CORS_ORIGINS: z.string().default("*"),
});

export type Config = z.infer<typeof configSchema>;

const cache = new WeakMap<object, Config>();

export function configFrom(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    // Names and rules only: values are secrets.
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    console.error(JSON.stringify({ level: "error", msg: "invalid configuration", problems }));
    throw new ProblemError("unavailable", {
      detail: "The service is misconfigured.",
      retryAfter: 60,
    });
  }
  cache.set(env, parsed.data);
  return parsed.data;
}
