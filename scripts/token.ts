/**
 * Mints a development user token: `npm run token -- <userId> [ttlSeconds]`.
 * Signs HS256 with JWT_SECRET from the environment, else `.dev.vars`, the same sources as
 * `npm start`; when there is no `.dev.vars` yet it writes one with random secrets, as `npm start`
 * does (never the example values). `npm run token -- --admin` prints the operator token instead.
 * The settings are checked exactly as `npm start` checks them (`checkStackSettings`): what it
 * would refuse, this refuses with the same message, so no token is minted from a secret the
 * service will not run with.
 */
import { resolve } from "node:path";
import { sign } from "hono/jwt";
import { devVarsNotice } from "../local/dev-vars.ts";
import { checkStackSettings, readStackSettings } from "../local/settings.ts";

const root = resolve(import.meta.dirname, "..");
const [userId, ttlArg] = process.argv.slice(2);
const USAGE =
  "usage: npm run token -- <userId (1..128 chars)> [ttlSeconds]  |  npm run token -- --admin";

/** The configuration `npm start` would run with; stdout stays the token alone (for `$(...)`). */
function config() {
  const settings = readStackSettings(root);
  const notice = devVarsNotice(settings.file, settings.created);
  if (notice) console.error(notice);
  try {
    return checkStackSettings(settings, process.env.COUPON_LOCAL_CLOUD !== "off").config;
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}

const ttl = Number(ttlArg ?? 3600);
if (userId === "--admin") {
  console.log(config().auth.adminToken);
} else if (!userId || userId.length > 128 || !Number.isSafeInteger(ttl) || ttl < 1) {
  console.error(USAGE);
  process.exit(2);
} else {
  const now = Math.floor(Date.now() / 1000);
  const { jwtSecret } = config().auth;
  console.log(await sign({ sub: userId, iat: now, exp: now + ttl }, jwtSecret, "HS256"));
}
