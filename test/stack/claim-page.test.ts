/**
 * The claim page (/claim, public/claim/) in headless Chromium: Debian's /usr/bin/chromium driven
 * by playwright-core (no browser is ever downloaded), against the bundled Worker served by workerd
 * as `npm start` serves it (without the local cloud: the page needs only the Worker). Screenshots
 * are kept in .local/artifacts/claim-page/.
 */
import { join } from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { openClaimPage, poll, signInClaimPage, usePageHarness } from "./page-harness.ts";

const harness = usePageHarness("claim-page");

/** A refused claim (409) and no coupon yet (404) are answers the page handles. */
const open = (eventId: string, locale = "en-US") =>
  openClaimPage(harness(), eventId, locale, [404, 409]);

const signIn = (page: Page, sub: string, label?: string) =>
  signInClaimPage(harness(), page, sub, label);

const past = new Date(Date.now() - 60_000).toISOString();

describe("the claim page", () => {
  it("without Turnstile loads nothing from another origin, and says so in its settings", async () => {
    const page = await fetch(`${harness().worker.url}/claim`);
    await page.body?.cancel();
    expect(page.headers.get("Content-Security-Policy")).toMatch(/script-src 'self';/);
    expect(page.headers.get("Content-Security-Policy")).not.toContain("challenges.cloudflare.com");
    const settings = await fetch(`${harness().worker.url}/claim/settings.json`);
    expect(await settings.json()).toEqual({ turnstileSiteKey: null });
  });

  it("claims a coupon, then shows sold out to the next user", async () => {
    const id = await harness().createEvent({ totalStock: 1, startsAt: past });
    const alice = await open(id);
    await signIn(alice.page, "page-alice");
    await alice.page.getByRole("button", { name: "Get my coupon" }).click();
    await poll(() => alice.page.getByRole("status").textContent()).toBe("You got a coupon!");
    await poll(() => alice.page.locator("#coupon-id").textContent()).toMatch(/^cpn_/);
    expect(await alice.page.locator("#coupon-status").textContent()).toBe("Ready to use");
    // The stock is polled every 2 s: the picture (docs/img/claim-page.png) shows it after the claim.
    await poll(() => alice.page.locator("#event-state").textContent()).toBe("Sold out");
    await alice.page.screenshot({ path: join(harness().artifacts, "claimed.png"), fullPage: true });

    const bob = await open(id);
    await signIn(bob.page, "page-bob");
    await bob.page.getByRole("button", { name: "Get my coupon" }).click();
    await poll(() => bob.page.getByRole("status").textContent()).toBe(
      "Sorry, all coupons are gone.",
    );
    expect(await bob.page.locator("#event-state").textContent()).toBe("Sold out");
    expect(await bob.page.locator("#remaining").textContent()).toBe("0");
    await bob.page.screenshot({ path: join(harness().artifacts, "sold-out.png"), fullPage: true });
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });

  it("keeps the button off until the next wave, says why and when, then claims", async () => {
    // The second wave opens soon enough for the test to see it, late enough for the first
    // user to empty the first one before.
    const nextMs = Date.now() + 25_000;
    const id = await harness().createEvent({
      totalStock: 2,
      startsAt: past,
      waves: [
        { at: past, quantity: 1 },
        { at: new Date(nextMs).toISOString(), quantity: 1 },
      ],
    });
    const alice = await open(id);
    await signIn(alice.page, "wave-alice");
    await alice.page.getByRole("button", { name: "Get my coupon" }).click();
    await poll(() => alice.page.getByRole("status").textContent()).toBe("You got a coupon!");

    const bob = await open(id);
    await signIn(bob.page, "wave-bob");
    const claim = bob.page.getByRole("button", { name: "Get my coupon" });
    // Nothing can be claimed until the wave: the button is off, with the reason and the time.
    await poll(() => claim.isDisabled()).toBe(true);
    const time = new Intl.DateTimeFormat("en-GB", { timeStyle: "short" }).format(nextMs);
    const reason = bob.page.locator("#reason");
    expect(await reason.textContent()).toMatch(
      new RegExp(`^Nothing to claim until the next release at ${time} \\(in 0:\\d\\d\\)\\.$`),
    );
    expect(await reason.isVisible()).toBe(true);
    expect(await claim.getAttribute("aria-describedby")).toBe("reason");
    expect(await bob.page.locator("#event-state").textContent()).toBe(
      "Waiting for the next release",
    );
    expect(await bob.page.locator("#countdown").textContent()).toMatch(
      /^More coupons in \d{1,2}:\d\d$/,
    );
    await bob.page.screenshot({
      path: join(harness().artifacts, "awaiting-release.png"),
      fullPage: true,
    });

    // The wave opens: the button comes back by itself, and the claim gets the new coupon.
    await expect.poll(() => claim.isEnabled(), { timeout: 45_000, interval: 250 }).toBe(true);
    expect(await reason.isHidden()).toBe(true);
    await claim.click();
    await poll(() => bob.page.getByRole("status").textContent()).toBe("You got a coupon!");
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });

  it("follows the browser's language and switches between Korean and English", async () => {
    const id = await harness().createEvent({
      totalStock: 5,
      startsAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const { page, errors } = await open(id, "ko-KR");
    expect(await page.getAttribute("html", "lang")).toBe("ko");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("쿠폰 이벤트");
    expect(await page.locator("#event-state").textContent()).toBe("시작 전");
    expect(await page.locator("#countdown").textContent()).toMatch(/후 시작$/);
    await signIn(page, "ko-user", "로그인 토큰");
    // Before the start nothing can be claimed: the button is off and says until when.
    expect(await page.getByRole("button", { name: "쿠폰 받기" }).isDisabled()).toBe(true);
    await poll(() => page.locator("#reason").textContent()).toMatch(
      /에 시작합니다 \((\d+:)?\d+:\d\d 남음\)\.$/,
    );
    await page.screenshot({ path: join(harness().artifacts, "korean.png"), fullPage: true });

    await page.getByRole("button", { name: "View in English" }).click();
    expect(await page.getAttribute("html", "lang")).toBe("en");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Coupon event");
    expect(await page.locator("#reason").textContent()).toMatch(
      /^Claims open at .+ \(in (\d+:)?\d+:\d\d\)\.$/,
    );
    await page.getByRole("button", { name: "한국어로 보기" }).click();
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("쿠폰 이벤트");
    expect(errors).toEqual([]);
  });
});
