/**
 * The operator dashboard (/dashboard, public/dashboard/) in headless Chromium (Debian's chromium
 * via playwright-core, never a downloaded browser), against the bundled Worker in workerd: the
 * stock goes down on the page while claims run, and the pause button pauses the event. A
 * screenshot is kept in .local/artifacts/dashboard/.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { poll, usePageHarness } from "./page-harness.ts";

const harness = usePageHarness("dashboard");

const admin = () => ({ Authorization: `Bearer ${harness().adminToken}` });

async function claim(eventId: string, sub: string): Promise<number> {
  const token = await harness().token(sub);
  const res = await fetch(`${harness().worker.url}/v1/events/${eventId}/claims`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  await res.body?.cancel();
  return res.status;
}

describe("the operator dashboard", () => {
  it("shows the stock going down while claims run, and pauses the event", async () => {
    const id = await harness().createEvent({
      name: "Flash sale",
      totalStock: 40,
      startsAt: new Date(Date.now() - 60_000).toISOString(),
    });

    const page = await harness().browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    await page.goto(`${harness().worker.url}/dashboard?event=${id}`);
    await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(harness().adminToken);
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
    const still = await fetch(`${harness().worker.url}/v1/events/${id}/stats`, {
      headers: admin(),
    });
    expect(((await still.json()) as { event: { state: string } }).event.state).not.toBe("paused");

    page.once("dialog", (dialog) => {
      expect(dialog.message()).toBe(`Pause the event ${id}?`);
      return dialog.accept();
    });
    await page.getByRole("button", { name: "Pause" }).click();
    await poll(() => page.locator("#state").textContent()).toBe("paused");
    const stats = await fetch(`${harness().worker.url}/v1/events/${id}/stats`, {
      headers: admin(),
    });
    expect(((await stats.json()) as { event: { state: string } }).event.state).toBe("paused");
    expect(await page.getByRole("button", { name: "Pause" }).isDisabled()).toBe(true);
    await page.screenshot({ path: join(harness().artifacts, "dashboard.png"), fullPage: true });
    expect(errors).toEqual([]);
  });

  it("refuses a user token", async () => {
    const page = await harness().browser.newPage();
    await page.goto(`${harness().worker.url}/dashboard`);
    await page.getByLabel("Operator token (ADMIN_TOKEN)").fill("not-the-operator-token");
    await page.keyboard.press("Enter");
    await poll(() => page.getByRole("alert").textContent()).toBe("The operator token was refused.");
    expect(await page.locator("#overview").isHidden()).toBe(true);
  });
});
