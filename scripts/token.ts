/**
 * Mints a development user token: `npm run token -- <userId> [ttlSeconds]`.
 * Signs HS256 with JWT_SECRET from the environment, else `.dev.vars`, the same sources as
 * `npm start`; when there is no `.dev.vars` yet it writes one with random secrets, as `npm start`
 * does (never the example values). `npm run token -- --admin` prints the operator token instead.
 */
import { resolve } from "node:path";
import { sign } from "hono/jwt";
import { devVarsFile, devVarsNotice, ensureDevVars, localSettings } from "../local/dev-vars.ts";

const root = resolve(import.meta.dirname, "..");
const [userId, ttlArg] = process.argv.slice(2);

/** A secret from the environment or `.dev.vars`; stdout stays the token alone (for `$(...)`). */
function secret(name: "JWT_SECRET" | "ADMIN_TOKEN"): string {
  const file = devVarsFile(root);
  const notice = devVarsNotice(file, ensureDevVars(file));
  if (notice) console.error(notice);
  const value = localSettings(file, [name])[name];
  if (!value) {
    console.error(`${name} is set neither in the environment nor in ${file}`);
    process.exit(1);
  }
  return value;
}

if (userId === "--admin") {
  console.log(secret("ADMIN_TOKEN"));
} else if (!userId || userId.length > 128) {
  console.error(
    "usage: npm run token -- <userId (1..128 chars)> [ttlSeconds]  |  npm run token -- --admin",
  );
  process.exit(2);
} else {
  const ttl = Number(ttlArg ?? 3600);
  const now = Math.floor(Date.now() / 1000);
  const jwtSecret = secret("JWT_SECRET");
  console.log(await sign({ sub: userId, iat: now, exp: now + ttl }, jwtSecret, "HS256"));
}
