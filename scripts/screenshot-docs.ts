/**
 * The pictures in the docs, taken with headless Chromium (Debian's /usr/bin/chromium via
 * playwright-core; no browser is downloaded). Each fails when the page logs an error, e.g. a
 * Content-Security-Policy violation.
 *
 *   node scripts/screenshot-docs.ts [base URL, default http://127.0.0.1:8787] [out file]
 *     the API reference (`/docs`) of a running service (`npm start`) → docs/img/api-reference.png
 *   node scripts/screenshot-docs.ts dashboard [out dir, default docs/img]
 *     the operator dashboard during an event, on a Worker of its own (bundled and served by
 *     workerd as `npm start` serves it, with throwaway secrets) → dashboard-1440x900.png and
 *     dashboard-390x844.png: what an operator sees without scrolling, on a desk and on a phone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sign } from "hono/jwt";
import { type Browser, chromium, type Page } from "playwright-core";
import { ensureChromium } from "../loadtest/browser.ts";
import { freePort } from "../local/servers/process.ts";
import { bundleWorker, startWorker } from "../local/worker.ts";

async function launch(): Promise<Browser> {
  const found = ensureChromium((line) => console.log(line));
  if ("missing" in found) throw new Error(found.missing);
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? found.path,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** Collects what the page logs as an error, and its requests answered 4xx or 5xx. */
function watch(page: Page, errors: string[]): void {
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("response", (res) => {
    if (res.status() >= 400) errors.push(`${res.status()} ${res.url()}`);
  });
}

async function apiReference(browser: Browser, base: string, out: string, errors: string[]) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 2300 } });
  watch(page, errors);
  await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
  await page.locator(".opblock").first().waitFor({ timeout: 15_000 });
  // One operation open, so the picture shows a request, its schemas and an example.
  await page
    .locator(".opblock-summary")
    .filter({ hasText: "/v1/events/{id}/claims" })
    .first()
    .click();
  await page.locator(".opblock.is-open .responses-wrapper").first().waitFor();
  await page.screenshot({ path: out, fullPage: false });
  console.log(`screenshot: ${out}`);
}

/**
 * An event a minute into its first wave: claims arrive at a steady pace until that wave's stock
 * is gone, then are refused while the page counts down to the next wave. Both pictures are taken
 * while the claims run, so the charts have a story.
 */
async function dashboard(browser: Browser, outDir: string, errors: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "coupons-screenshots-"));
  const jwtSecret = `screenshots-${crypto.randomUUID()}`;
  const adminToken = `screenshots-${crypto.randomUUID()}`;
  const worker = await startWorker({
    dir: join(dir, "worker"),
    bundle: await bundleWorker(join(dir, "bundle")),
    host: "127.0.0.1",
    port: await freePort(),
    fronts: 1, // the dashboard's metrics describe the isolate that answers
    bindings: { JWT_SECRET: jwtSecret, ADMIN_TOKEN: adminToken, REQUEST_LOG: "off" },
  });
  try {
    const minute = 60_000;
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const id = "back-to-school";
    const created = await fetch(`${worker.url}/v1/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        id,
        name: "Back to school",
        totalStock: 1000,
        startsAt: iso(now - minute),
        endsAt: iso(now + 60 * minute),
        waves: [
          { at: iso(now - minute), quantity: 400 },
          { at: iso(now + 9 * minute), quantity: 300 },
          { at: iso(now + 19 * minute), quantity: 300 },
        ],
      }),
    });
    if (created.status !== 201) throw new Error(`create: ${created.status}`);

    let user = 0;
    let claiming = true;
    const claims = (async () => {
      while (claiming) {
        const batch = Array.from({ length: 12 }, async () => {
          const token = await sign(
            { sub: `shopper-${user++}`, exp: Math.floor(Date.now() / 1000) + 600 },
            jwtSecret,
            "HS256",
          );
          const res = await fetch(`${worker.url}/v1/events/${id}/claims`, {
            method: "POST",
            headers: { Authorization: `Bearer ${token}` },
          });
          await res.body?.cancel();
        });
        await Promise.all([...batch, new Promise((done) => setTimeout(done, 250))]);
      }
    })();

    const shoot = async (width: number, height: number, wait: number) => {
      const page = await browser.newPage({ viewport: { width, height } });
      watch(page, errors);
      await page.goto(`${worker.url}/dashboard?event=${id}`);
      await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(adminToken);
      await page.keyboard.press("Enter");
      await page.locator("#latency tr").first().waitFor();
      // The charts draw a point a second: let them gather some.
      await page.waitForTimeout(wait);
      const out = join(outDir, `dashboard-${width}x${height}.png`);
      await page.screenshot({ path: out, fullPage: false });
      await page.close(); // before the Worker stops: its polls would log refused connections
      console.log(`screenshot: ${out}`);
    };
    await Promise.all([shoot(1440, 900, 40_000), shoot(390, 844, 40_000)]);
    claiming = false;
    await claims;
  } finally {
    await worker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const browser = await launch();
const errors: string[] = [];
try {
  if (process.argv[2] === "dashboard") {
    await dashboard(browser, resolve(process.argv[3] ?? "docs/img"), errors);
  } else {
    const base = process.argv[2] ?? "http://127.0.0.1:8787";
    const out = resolve(process.argv[3] ?? "docs/img/api-reference.png");
    await apiReference(browser, base, out, errors);
  }
} finally {
  await browser.close();
}
if (errors.length > 0) {
  console.error(`the page logged ${errors.length} error(s):\n${errors.join("\n")}`);
  process.exit(1);
}
