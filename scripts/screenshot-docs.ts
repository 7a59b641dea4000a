/**
 * Screenshots the API reference (`/docs`) with headless Chromium (Debian's /usr/bin/chromium via
 * playwright-core; no browser is downloaded) into docs/img/api-reference.png, and fails when the
 * page logs an error, e.g. a Content-Security-Policy violation.
 *
 *   node scripts/screenshot-docs.ts [base URL, default http://127.0.0.1:8787] [out file]
 *
 * Needs a running service (`npm start`) and `apt-get install chromium`.
 */
import { resolve } from "node:path";
import { chromium } from "playwright-core";

const base = process.argv[2] ?? "http://127.0.0.1:8787";
const out = resolve(process.argv[3] ?? "docs/img/api-reference.png");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const errors: string[] = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 2300 } });
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("response", (res) => {
    if (res.status() >= 400) errors.push(`${res.status()} ${res.url()}`);
  });
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
} finally {
  await browser.close();
}
if (errors.length > 0) {
  console.error(`the page logged ${errors.length} error(s):\n${errors.join("\n")}`);
  process.exit(1);
}
