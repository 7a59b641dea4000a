/**
 * The waiting room on the pages (issue 24): the claim page (/claim) joins the room when it opens,
 * shows the place after the draw, lets the user claim once admitted, and says sold out; the
 * dashboard shows the room's figures and its draw. Headless Chromium (Debian's, via
 * playwright-core) against the bundled Worker in workerd, on a phone-sized screen. Screenshots
 * are kept in .local/artifacts/claim-page-room/.
 */
import { join } from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { openClaimPage, poll, signInClaimPage, usePageHarness } from "./page-harness.ts";

const harness = usePageHarness("claim-page-room");

/** The draw comes 2.5 s after the start and the first poll after it up to 4 s later. */
const roomPoll = <T>(read: () => Promise<T>) =>
  expect.poll(read, { timeout: 40_000, interval: 100 });

/** No coupon yet (404) is an answer the page handles. */
const open = (eventId: string, locale: string) => openClaimPage(harness(), eventId, locale, [404]);

const signIn = (page: Page, sub: string, label: string) =>
  signInClaimPage(harness(), page, sub, label);

const text = (page: Page, id: string) => page.locator(`#${id}`).textContent();

async function readEvent(id: string): Promise<{
  queue: { seedCommitment: string; seed: string | null; joined: number };
}> {
  const res = await fetch(`${harness().worker.url}/v1/events/${id}`);
  return res.json();
}

describe("the waiting room on the pages", () => {
  it("joins when the room opens, shows the place after the draw, claims when admitted, then sold out", async () => {
    const opensAt = Date.now() + 3_000;
    const startsAt = Date.now() + 7_000;
    const id = await harness().createEvent({
      totalStock: 2,
      startsAt: new Date(startsAt).toISOString(),
      queue: { opensAt: new Date(opensAt).toISOString() },
    });
    const { queue } = await readEvent(id);

    const alice = await open(id, "en-US");
    await signIn(alice.page, "room-alice", "Your sign-in token");
    const joinButton = alice.page.getByRole("button", { name: "Join the waiting room" });
    const claimButton = alice.page.getByRole("button", { name: "Get my coupon" });
    // The draw's commitment is public before the start; the seed is not.
    expect(await text(alice.page, "commitment")).toBe(queue.seedCommitment);
    expect(await text(alice.page, "seed")).toMatch(/^Shown at the start \(.+\)\.$/);
    expect(await claimButton.isDisabled()).toBe(true);
    if (Date.now() < opensAt - 500) {
      // Before the room opens its button is off and says when it opens.
      expect(await joinButton.isDisabled()).toBe(true);
      expect(await text(alice.page, "join-reason")).toMatch(
        /^The waiting room opens at .+ \(in 0:0\d\)\.$/,
      );
    }
    await poll(() => joinButton.isEnabled()).toBe(true);
    await joinButton.focus();
    await alice.page.keyboard.press("Enter");
    await poll(() => text(alice.page, "room-status")).toMatch(
      /^You are in the waiting room\. The draw is at .+\.$/,
    );
    expect(await joinButton.isHidden()).toBe(true);
    expect(await claimButton.isDisabled()).toBe(true);
    expect(await text(alice.page, "reason")).toBe("You can claim when your turn comes.");

    // A second user, in Korean, joins before the start too.
    const minji = await open(id, "ko-KR");
    await signIn(minji.page, "room-minji", "로그인 토큰");
    await minji.page.getByRole("button", { name: "대기실 입장" }).click();
    await poll(() => text(minji.page, "room-status")).toMatch(/^대기실에 입장했습니다\./);
    await alice.page.screenshot({ path: join(harness().artifacts, "joined.png"), fullPage: true });

    // After the draw: the place, then (stock 2, two users) both are let in.
    await roomPoll(() => text(alice.page, "room-place")).toMatch(
      /^Your place: [12]\. Admitted through \d+\.$/,
    );
    await roomPoll(() => text(alice.page, "room-status")).toBe("You're in: claim now.");
    expect(await text(alice.page, "room-timer")).toMatch(/^\d+:\d\d left to claim$/);
    expect(await text(alice.page, "seed")).toMatch(/^[0-9a-f]{64}$/);
    await poll(() => claimButton.isEnabled()).toBe(true);
    // A claim without a ticket is refused `queued`.
    const sneak = await fetch(`${harness().worker.url}/v1/events/${id}/claims`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await harness().token("room-sneak")}` },
    });
    expect(sneak.status).toBe(409);
    expect((await sneak.json()).type).toMatch(/queued$/);
    await alice.page.screenshot({
      path: join(harness().artifacts, "admitted.png"),
      fullPage: true,
    });
    await claimButton.click();
    await poll(() => text(alice.page, "message")).toBe("You got a coupon!");
    await poll(() => text(alice.page, "coupon-id")).toMatch(/^cpn_/);

    await roomPoll(() => text(minji.page, "room-place")).toMatch(/^내 순번: [12]\./);
    await roomPoll(() => text(minji.page, "room-status")).toBe(
      "차례가 되었습니다. 지금 쿠폰을 받으세요.",
    );
    const minjiClaim = minji.page.getByRole("button", { name: "쿠폰 받기" });
    await poll(() => minjiClaim.isEnabled()).toBe(true);
    await minjiClaim.click();
    await poll(() => text(minji.page, "message")).toBe("쿠폰을 받았습니다!");
    await minji.page.screenshot({ path: join(harness().artifacts, "korean.png"), fullPage: true });

    // The stock is gone: a late user is told so, with nothing to join.
    const late = await open(id, "en-US");
    await signIn(late.page, "room-late", "Your sign-in token");
    await poll(() => text(late.page, "room-status")).toBe("Sorry, all coupons are gone.");
    expect(await late.page.getByRole("button", { name: "Join the waiting room" }).count()).toBe(0);
    const wide = await late.page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(wide).toBeLessThanOrEqual(0);
    expect([...alice.errors, ...minji.errors, ...late.errors]).toEqual([]);

    // The dashboard: who joined and claimed, and the draw's commitment and seed.
    const dash = await harness().browser.newPage({ viewport: { width: 390, height: 844 } });
    const dashErrors: string[] = [];
    dash.on("pageerror", (err) => dashErrors.push(err.message));
    await dash.goto(`${harness().worker.url}/dashboard?event=${id}`);
    await dash.getByLabel("Operator token (ADMIN_TOKEN)").fill(harness().adminToken);
    await dash.keyboard.press("Enter");
    await poll(() => text(dash, "room-joined")).toBe("2");
    expect(await dash.locator("#room").isVisible()).toBe(true);
    expect(await text(dash, "room-commitment")).toBe(queue.seedCommitment);
    const seed = (await readEvent(id)).queue.seed;
    expect(seed).toMatch(/^[0-9a-f]{64}$/);
    expect(await text(dash, "room-seed")).toBe(seed);
    await poll(() => text(dash, "room-claimed")).toBe("2");
    expect(await text(dash, "room-lapsed")).toBe("0");
    expect(Number(await text(dash, "room-admitted"))).toBeGreaterThanOrEqual(2);
    // The claim without a ticket above, refused `queued` at the edge, is in the stats.
    await poll(async () => Number(await text(dash, "room-queued"))).toBeGreaterThanOrEqual(1);
    const dashWide = await dash.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(dashWide).toBeLessThanOrEqual(0);
    await dash.screenshot({ path: join(harness().artifacts, "dashboard.png"), fullPage: true });
    expect(dashErrors).toEqual([]);
  });
});
