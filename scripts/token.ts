/**
 * Mints a development user token: `npm run token -- <userId> [ttlSeconds]`.
 * Signs HS256 with JWT_SECRET from the environment, `.dev.vars` or `.dev.vars.example`.
 * `npm run token -- --admin` prints the operator token instead.
 */
import { resolve } from "node:path";
import { sign } from "hono/jwt";
import { localSecrets } from "../local/dev-vars.ts";

const root = resolve(import.meta.dirname, "..");
const [userId, ttlArg] = process.argv.slice(2);

if (userId === "--admin") {
  console.log(localSecrets(root, ["ADMIN_TOKEN"]).ADMIN_TOKEN);
} else if (!userId || userId.length > 128) {
  console.error(
    "usage: npm run token -- <userId (1..128 chars)> [ttlSeconds]  |  npm run token -- --admin",
  );
  process.exit(2);
} else {
  const ttl = Number(ttlArg ?? 3600);
  const now = Math.floor(Date.now() / 1000);
  const { JWT_SECRET } = localSecrets(root, ["JWT_SECRET"]);
  console.log(await sign({ sub: userId, iat: now, exp: now + ttl }, JWT_SECRET as string, "HS256"));
}
