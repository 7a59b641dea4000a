/**
 * The operator dashboard (/dashboard, public/dashboard/) in headless Chromium (Debian's chromium
 * via playwright-core, never a downloaded browser), against the bundled Worker in workerd: the
 * live event comes first with its clock, the stock goes down on the page while claims run, the
 * alert thresholds are lines on the charts, a phone needs no sideways scrolling, and the pause
 * button pauses the event (and is off for an id that is not an event). Screenshots are kept in
 * .local/artifacts/dashboard/.
 */
import { join } from "node:path";
import type { Page } from "playwright-core";
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

/** A signed-in dashboard page at `path`, sized `width`×`height`, with its errors collected. */
async function open(
  path: string,
  width: number,
  height: number,
): Promise<{ page: Page; errors: string[] }> {
  const page = await harness().browser.newPage({ viewport: { width, height } });
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/status of 404/.test(msg.text())) errors.push(msg.text());
  });
  await page.goto(`${harness().worker.url}${path}`);
  await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(harness().adminToken);
  await page.keyboard.press("Enter");
  return { page, errors };
}

/** The labels and the points of a chart's datasets, as Chart.js holds them. */
function datasets(page: Page, canvas: string) {
  return page.evaluate((id) => {
    const chart = (
      window as unknown as {
        Chart: {
          getChart(id: string): { data: { datasets: { label: string; data: unknown[] }[] } };
        };
      }
    ).Chart.getChart(id);
    return chart?.data.datasets.map((d) => ({ label: d.label, data: d.data })) ?? [];
  }, canvas);
}

/** What sticks out to the right: the page, and any table inside its scrolling wrapper. */
function overflow(page: Page) {
  return page.evaluate(() => ({
    page: document.documentElement.scrollWidth - window.innerWidth,
    tables: [...document.querySelectorAll(".table-wrap")].map((w) => w.scrollWidth - w.clientWidth),
  }));
}

const past = () => new Date(Date.now() - 60_000).toISOString();

describe("the operator dashboard", () => {
  it("shows the live event first with its clock, the stock going down, and pauses it", async () => {
    const nextWave = new Date(Date.now() + 10 * 60_000).toISOString();
    const id = await harness().createEvent({
      name: "Flash sale",
      totalStock: 50,
      startsAt: past(),
      waves: [
        { at: past(), quantity: 40 },
        { at: nextWave, quantity: 10 },
      ],
    });

    const { page, errors } = await open(`/dashboard?event=${id}`, 1440, 900);
    await poll(() => page.locator("#remaining").textContent()).toBe("40");
    expect(await page.locator("#state").textContent()).toBe("open");

    // At 1440×900 the event, its clock and its figures are above the fold.
    for (const part of ["#event", "#event-title", ".clock", ".figures"]) {
      const box = await page.locator(part).boundingBox();
      expect(box?.y, part).toBeLessThan(900);
    }
    const clockBox = await page.locator(".clock").boundingBox();
    expect((clockBox?.y ?? 900) + (clockBox?.height ?? 0)).toBeLessThan(900);
    expect(await page.locator("#starts-at").textContent()).toMatch(/\d\d:\d\d:\d\d \(started\)$/);
    expect(await page.locator("#next-wave").textContent()).toMatch(
      /^\d\d:\d\d:\d\d · 10 coupons \(wave 2 of 2\)$/,
    );
    expect(await page.locator("#countdown-label").textContent()).toBe("Next wave in");
    const first = await page.locator("#countdown").textContent();
    expect(first).toMatch(/^(9|10):\d\d$/);
    await poll(() => page.locator("#countdown").textContent()).not.toBe(first);

    // No alert fires: said calmly, not in alarm red.
    await poll(() => page.locator("#alerts").textContent()).toBe("No alerts firing.");
    // The list is redrawn every second: read the colour of the item there now.
    await poll(() => page.locator("#alerts li").evaluate((li) => getComputedStyle(li).color)).toBe(
      "rgb(27, 110, 45)",
    );
    expect(await page.locator("#alerts-panel").getAttribute("class")).toContain("calm");

    // The seed's alert thresholds are lines on the latency and 5xx charts.
    await poll(async () => (await datasets(page, "p95-chart")).map((d) => d.label)).toEqual([
      "p95 (ms)",
      "alert at 2.00 s",
    ]);
    const p95Limit = (await datasets(page, "p95-chart"))[1]?.data ?? [];
    expect(p95Limit.length).toBeGreaterThan(0);
    expect(new Set(p95Limit)).toEqual(new Set([2000]));
    const errorLimit = (await datasets(page, "errors-chart"))[1];
    expect(errorLimit?.label).toBe("alert at 5%");
    expect(new Set(errorLimit?.data)).toEqual(new Set([5]));

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
    await poll(() => page.locator("#state").textContent()).toBe("awaiting-release");
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

    // On a phone: the same page in one column, nothing wider than the screen.
    const phone = await open(`/dashboard?event=${id}`, 390, 844);
    await poll(() => phone.page.locator("#latency").textContent()).toContain(
      "POST /v1/events/{id}/claims",
    );
    await poll(() => phone.page.locator("#sinks tr").count()).toBeGreaterThan(0);
    expect(await overflow(phone.page)).toEqual({ page: 0, tables: [0, 0] });
    expect((await phone.page.locator("#event").boundingBox())?.y).toBeLessThan(844);
    await phone.page.screenshot({
      path: join(harness().artifacts, "dashboard-phone.png"),
      fullPage: true,
    });
    expect([...errors, ...phone.errors]).toEqual([]);
  });

  it("without an event chosen, shows the live one first", async () => {
    const { page, errors } = await open("/dashboard", 1440, 900);
    await poll(() => page.locator("#event-title").textContent()).toMatch(/^Flash sale \(/);
    expect((await page.locator("#event").boundingBox())?.y).toBeLessThan(900);
    expect(errors).toEqual([]);
  });

  it("shows a firing alert in red", async () => {
    const page = await harness().browser.newPage({ viewport: { width: 1440, height: 900 } });
    // A firing alert takes minutes of slow traffic to raise; the page only reads the answer.
    await page.route("**/v1/admin/alerts", (route) =>
      route.fulfill({
        json: {
          open: [
            { rule: "p95", since: Date.now(), detail: "POST /v1/events/{id}/claims p95 2.40 s" },
          ],
          thresholds: { p95Ms: 2000, errorRatePct: 5, windowMinutes: 2 },
        },
      }),
    );
    await page.goto(`${harness().worker.url}/dashboard`);
    await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(harness().adminToken);
    await page.keyboard.press("Enter");
    await poll(() => page.locator("#alerts-title").textContent()).toBe("Alerts firing (1)");
    expect(await page.locator("#alerts li").textContent()).toMatch(/^p95 since \d\d:\d\d:\d\d: /);
    // The list is redrawn every second: read the colour of the item there now.
    await poll(() => page.locator("#alerts li").evaluate((li) => getComputedStyle(li).color)).toBe(
      "rgb(166, 27, 27)",
    );
    expect(await page.locator("#alerts-panel").getAttribute("class")).toContain("firing");
  });

  it("keeps Pause and Resume off for an id that is not an event", async () => {
    const { page, errors } = await open("/dashboard?event=no-such-event", 1440, 900);
    await poll(() => page.locator("#event-title").textContent()).toBe(
      "no-such-event: no such event",
    );
    expect(await page.getByRole("button", { name: "Pause" }).isDisabled()).toBe(true);
    expect(await page.getByRole("button", { name: "Resume" }).isDisabled()).toBe(true);

    // The id field checks the contract's pattern (a valid regular expression, so it checks).
    const field = page.getByLabel("Event id");
    await field.fill("not an id!");
    expect(await field.evaluate((i: HTMLInputElement) => i.validity.patternMismatch)).toBe(true);
    await field.press("Enter");
    expect(page.url()).toContain("event=no-such-event");
    await field.fill("fine_id-1");
    expect(await field.evaluate((i: HTMLInputElement) => i.validity.valid)).toBe(true);

    // An id that breaks the pattern in the address is not even asked about.
    const bad = await open("/dashboard?event=bad%20id!", 1440, 900);
    await poll(() => bad.page.locator("#event-title").textContent()).toMatch(/is not an event id/);
    expect(await bad.page.getByRole("button", { name: "Pause" }).isDisabled()).toBe(true);
    expect(await bad.page.getByRole("button", { name: "Resume" }).isDisabled()).toBe(true);
    expect([...errors, ...bad.errors]).toEqual([]);
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
