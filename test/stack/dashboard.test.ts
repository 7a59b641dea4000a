/**
 * The operator dashboard (/dashboard, public/dashboard/) in headless Chromium (Debian's chromium
 * via playwright-core, never a downloaded browser), against the bundled Worker in workerd: the
 * stock goes down on the page while claims run, and the pause button pauses the event. A
 * screenshot is kept in .local/artifacts/dashboard/.
 */
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningWorker } from "../../local/worker.ts";
import { type PageHarness, poll, startPageHarness } from "./page-harness.ts";

let harness: PageHarness;
let worker: RunningWorker;
let browser: Browser;
let ARTIFACTS: string;
let ADMIN_TOKEN: string;

beforeAll(async () => {
  harness = await startPageHarness("dashboard");
  ({ worker, browser, artifacts: ARTIFACTS, adminToken: ADMIN_TOKEN } = harness);
}, 180_000);

afterAll(async () => {
  await harness?.stop();
});

const admin = () => ({ Authorization: `Bearer ${ADMIN_TOKEN}` });

async function claim(eventId: string, sub: string): Promise<number> {
  const token = await harness.token(sub);
  const res = await fetch(`${worker.url}/v1/events/${eventId}/claims`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  await res.body?.cancel();
  return res.status;
}

describe("the operator dashboard", () => {
  it("shows the stock going down while claims run, and pauses the event", async () => {
    const id = `dash-${crypto.randomUUID().slice(0, 8)}`;
    const created = await fetch(`${worker.url}/v1/events`, {
      method: "POST",
      headers: { ...admin(), "Content-Type": "application/json" },
      body: JSON.stringify({
        id,
        name: "Flash sale",
        totalStock: 40,
        startsAt: new Date(Date.now() - 60_000).toISOString(),
      }),
    });
    expect(created.status).toBe(201);

    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    await page.goto(`${worker.url}/dashboard?event=${id}`);
    await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(ADMIN_TOKEN);
    await page.keyboard.press("Enter");
    await poll(() => page.locator("#remaining").textContent()).toBe("40");
    expect(await page.locator("#state").textContent()).toBe("open");

    // Claims run in waves; the page, polling every second, sees the stock fall step by step.
    const seen = new Set<string>();
    for (let wave = 0; wave < 4; wave++) {
      const statuses = await Promise.all(
        Array.from({ length: 10 }, (_, i) => claim(id, `dash-user-${wave}-${i}`)),
      );
      expect(statuses.every((s) => s === 201)).toBe(true);
      const expected = String(40 - 10 * (wave + 1));
      await poll(() => page.locator("#remaining").textContent()).toBe(expected);
      seen.add(expected);
    }
    expect([...seen]).toEqual(["30", "20", "10", "0"]);
    expect(await page.locator("#issued").textContent()).toBe("40");
    // The event is listed, the latency table has the claim route.
    await poll(() => page.locator("#events button").allTextContents()).toContain(id);
    await poll(() => page.locator("#latency").textContent()).toContain(
      "POST /v1/events/{id}/claims",
    );

    // Pause, after a confirmation that is first declined.
    page.once("dialog", (dialog) => dialog.dismiss());
    await page.getByRole("button", { name: "Pause" }).click();
    await page.waitForTimeout(300); // a declined confirmation sends nothing
    const still = await fetch(`${worker.url}/v1/events/${id}/stats`, { headers: admin() });
    expect(((await still.json()) as { event: { state: string } }).event.state).not.toBe("paused");

    page.once("dialog", (dialog) => {
      expect(dialog.message()).toBe(`Pause the event ${id}?`);
      return dialog.accept();
    });
    await page.getByRole("button", { name: "Pause" }).click();
    await poll(() => page.locator("#state").textContent()).toBe("paused");
    const stats = await fetch(`${worker.url}/v1/events/${id}/stats`, { headers: admin() });
    expect(((await stats.json()) as { event: { state: string } }).event.state).toBe("paused");
    expect(await page.getByRole("button", { name: "Pause" }).isDisabled()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    expect(errors).toEqual([]);
  });

  it("refuses a user token", async () => {
    const page = await browser.newPage();
    await page.goto(`${worker.url}/dashboard`);
    await page.getByLabel("Operator token (ADMIN_TOKEN)").fill("not-the-operator-token");
    await page.keyboard.press("Enter");
    await poll(() => page.getByRole("alert").textContent()).toBe("The operator token was refused.");
    expect(await page.locator("#overview").isHidden()).toBe(true);
  });
});
