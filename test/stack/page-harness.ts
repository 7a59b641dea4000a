/**
 * What the page tests share: the bundled Worker served by workerd as `npm start` serves it
 * (without the local cloud: the pages need only the Worker) and Debian's Chromium driven by
 * playwright-core (installed with apt when missing and root; never a downloaded browser); and the
 * claim page opened and signed in as the page tests do.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sign } from "hono/jwt";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { ensureChromium } from "../../loadtest/browser.ts";
import { freePort } from "../../local/servers/process.ts";
import { bundleWorker, type RunningWorker, startWorker } from "../../local/worker.ts";

/** The pages poll and tick every second or less; a loaded machine may take a few. */
export const poll = <T>(read: () => Promise<T>) =>
  expect.poll(read, { timeout: 15_000, interval: 100 });

export interface PageHarness {
  worker: RunningWorker;
  browser: Browser;
  /** Where screenshots are kept (.local/artifacts/<name>/). */
  artifacts: string;
  jwtSecret: string;
  adminToken: string;
  /** A user token for `sub`, valid for ten minutes. */
  token(sub: string): Promise<string>;
  /** Creates an event named "Back to school" (unless `body` names it) with a fresh id; its id. */
  createEvent(body: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

export async function startPageHarness(
  name: string,
  bindings: Record<string, string> = {},
): Promise<PageHarness> {
  const chromiumFound = ensureChromium((line) => console.log(line));
  if ("missing" in chromiumFound) throw new Error(chromiumFound.missing);
  const artifacts = resolve(import.meta.dirname, "../../.local/artifacts", name);
  mkdirSync(artifacts, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), `coupons-${name}-`));
  const jwtSecret = `${name}-jwt-secret-0123456789abcdef-0123456789`;
  const adminToken = `${name}-admin-token-0123456789`;
  const worker = await startWorker({
    dir: join(dir, "worker"),
    bundle: await bundleWorker(join(dir, "bundle")),
    host: "127.0.0.1",
    port: await freePort(),
    // One front: the dashboard reads /v1/admin/metrics, which describes the isolate that answers
    // (with two fronts, each page refresh could see the other half of the requests).
    fronts: 1,
    bindings: { JWT_SECRET: jwtSecret, ADMIN_TOKEN: adminToken, REQUEST_LOG: "off", ...bindings },
  });
  const browser = await chromium.launch({
    executablePath: chromiumFound.path,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  return {
    worker,
    browser,
    artifacts,
    jwtSecret,
    adminToken,
    token: (sub) => sign({ sub, exp: Math.floor(Date.now() / 1000) + 600 }, jwtSecret, "HS256"),
    async createEvent(body) {
      const id = `${name}-${crypto.randomUUID().slice(0, 8)}`;
      const res = await fetch(`${worker.url}/v1/events`, {
        method: "POST",
        headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
        body: JSON.stringify({ id, name: "Back to school", ...body }),
      });
      if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
      return id;
    },
    async stop() {
      await browser.close();
      await worker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A harness for the test file: started before its tests (with `bindings()` read then, so they
 * may name servers an earlier `beforeAll` started), stopped after them. Read it with the getter.
 */
export function usePageHarness(
  name: string,
  bindings: () => Record<string, string> = () => ({}),
): () => PageHarness {
  let harness: PageHarness | undefined;
  beforeAll(async () => {
    harness = await startPageHarness(name, bindings());
  }, 180_000);
  afterAll(async () => {
    await harness?.stop();
  });
  return () => {
    if (!harness) throw new Error(`the ${name} harness has not started`);
    return harness;
  };
}

/**
 * A fresh claim page (its own session storage) for one user on a phone-sized screen, in `locale`,
 * with errors collected. `handled` are answers the page handles, so their console errors are not
 * bugs; anything else is. `prepare` sets the context up before the page opens (routes, ...).
 */
export async function openClaimPage(
  harness: PageHarness,
  eventId: string,
  locale: string,
  handled: number[],
  prepare?: (context: BrowserContext) => Promise<unknown>,
): Promise<{ page: Page; errors: string[] }> {
  const context = await harness.browser.newContext({
    locale,
    viewport: { width: 390, height: 844 },
  });
  await prepare?.(context);
  const page = await context.newPage();
  const errors: string[] = [];
  const handledError = new RegExp(`status of (${handled.join("|")})`);
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !handledError.test(msg.text())) errors.push(msg.text());
  });
  await page.goto(`${harness.worker.url}/claim?event=${eventId}`);
  await page.getByRole("heading", { name: "Back to school" }).waitFor();
  return { page, errors };
}

/** Signs `sub` in on the claim page, through the token field named `label` and the keyboard. */
export async function signInClaimPage(
  harness: PageHarness,
  page: Page,
  sub: string,
  label = "Your sign-in token",
): Promise<void> {
  await page.getByLabel(label).fill(await harness.token(sub));
  await page.keyboard.press("Enter"); // the form, by keyboard
}
