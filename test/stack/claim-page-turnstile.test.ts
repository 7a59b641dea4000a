/**
 * The claim page when claims need Turnstile (TURNSTILE_SECRET and TURNSTILE_SITE_KEY set): it
 * draws Cloudflare's widget, keeps the claim button off until the widget hands it a token, sends
 * that token with the claim and resets the widget after every answer (a token is single use).
 * There is no internet here: the browser gets a small fake of the widget's api.js instead of
 * Cloudflare's, and the Worker asks siteverify's local stand-in, served by this process.
 * Screenshots are kept in .local/artifacts/claim-page-turnstile/.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { getRequestListener } from "@hono/node-server";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTurnstileGateway,
  DUMMY_TOKEN,
  TEST_SECRETS,
} from "../../local/gateway/turnstile.ts";
import { openClaimPage, poll, signInClaimPage, usePageHarness } from "./page-harness.ts";

const SITE_KEY = "1x00000000000000000000AA";
const WIDGET_SCRIPT = "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit";
const TURNSTILE_HEADER = "CF-Turnstile-Response"; // src/middleware/turnstile.ts

/**
 * The widget, as far as the page uses it: render/reset/remove. Rendered, it shows one button that
 * hands over the dummy token, as Cloudflare's widget does with its test site keys. It records
 * what the page asked of it in `window.fakeTurnstile`.
 */
const FAKE_WIDGET = `
window.fakeTurnstile = { renders: [], resets: 0 };
window.turnstile = (() => {
  const widgets = new Map();
  let next = 0;
  const draw = (id) => {
    const { el, options } = widgets.get(id);
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Verify you are human";
    button.addEventListener("click", () => {
      el.replaceChildren("Success!");
      options.callback(${JSON.stringify(DUMMY_TOKEN)});
    });
    el.replaceChildren(button);
  };
  return {
    render(el, options) {
      const id = String(next++);
      widgets.set(id, { el, options });
      window.fakeTurnstile.renders.push({ sitekey: options.sitekey, language: options.language });
      draw(id);
      return id;
    },
    reset(id) {
      window.fakeTurnstile.resets++;
      draw(id);
    },
    remove(id) {
      widgets.get(id)?.el.replaceChildren();
      widgets.delete(id);
    },
  };
})();
`;

interface FakeWidget {
  renders: { sitekey: string; language: string }[];
  resets: number;
}

/**
 * Cloudflare's test secrets decide siteverify's answer. One Worker (TURNSTILE_SECRET = the passing
 * secret) serves every test here, so the stand-in checks with the secret the running test picks,
 * as if the Worker had been deployed with it; it keeps the tokens it was asked about.
 */
let verifyWith: string = TEST_SECRETS.pass;
const verified: string[] = [];
const siteverify = createTurnstileGateway({ secret: TEST_SECRETS.pass });
const standIn = createServer(
  getRequestListener(
    async (req) => {
      const form = new URLSearchParams(await req.text());
      verified.push(form.get("response") ?? "");
      form.set("secret", verifyWith);
      return siteverify.fetch(new Request(req.url, { method: "POST", body: form }));
    },
    { overrideGlobalObjects: false },
  ),
);

beforeAll(async () => {
  await new Promise<void>((listening) => standIn.listen(0, "127.0.0.1", listening));
});
afterAll(async () => {
  await new Promise((closed) => standIn.close(closed));
});

// Started after the stand-in (hooks run in order), so the Worker can be pointed at its port.
const harness = usePageHarness("claim-page-turnstile", () => ({
  TURNSTILE_SECRET: TEST_SECRETS.pass,
  TURNSTILE_SITE_KEY: SITE_KEY,
  TURNSTILE_VERIFY_URL: `http://127.0.0.1:${(standIn.address() as AddressInfo).port}/turnstile/v0/siteverify`,
}));

const createEvent = (totalStock: number) =>
  harness().createEvent({ totalStock, startsAt: new Date(Date.now() - 60_000).toISOString() });

async function eventStock(id: string): Promise<{ issued: number; remaining: number }> {
  const res = await fetch(`${harness().worker.url}/v1/events/${id}`);
  return (await res.json()) as { issued: number; remaining: number };
}

/**
 * A fresh page for one user, signed in, with Cloudflare's origin answered by the fake widget and
 * errors collected (CSP violations included). `expected` are answers the page handles.
 */
async function open(id: string, sub: string, expected = [404]) {
  const widgetRequests: string[] = [];
  const { page, errors } = await openClaimPage(harness(), id, "en-US", expected, (context) =>
    context.route("https://challenges.cloudflare.com/**", (route) => {
      widgetRequests.push(route.request().url());
      return route.fulfill({ contentType: "text/javascript; charset=utf-8", body: FAKE_WIDGET });
    }),
  );
  await signInClaimPage(harness(), page, sub);
  await page.getByText("Signed in.").waitFor();
  return { page, errors, widgetRequests };
}

const widget = (page: Page) => page.evaluate<FakeWidget>("window.fakeTurnstile");

/** Clicks the claim button and answers the claim request and its answer's status. */
async function claim(page: Page, id: string) {
  const answered = page.waitForResponse(
    (res) => res.request().method() === "POST" && res.url().endsWith(`/v1/events/${id}/claims`),
  );
  await page.getByRole("button", { name: "Get my coupon" }).click();
  const res = await answered;
  return { status: res.status(), token: await res.request().headerValue(TURNSTILE_HEADER) };
}

describe("the claim page with Turnstile on", () => {
  it("claims only after the check, with its token, and resets the widget after the answer", async () => {
    const id = await createEvent(2);
    const { page, errors, widgetRequests } = await open(id, "turnstile-alice");
    const claimButton = page.getByRole("button", { name: "Get my coupon" });
    const check = page.getByRole("button", { name: "Verify you are human" });
    await check.waitFor();
    expect(widgetRequests).toEqual([WIDGET_SCRIPT]);
    expect((await widget(page)).renders).toEqual([{ sitekey: SITE_KEY, language: "en" }]);
    expect(await claimButton.isDisabled()).toBe(true);
    await page.screenshot({ path: join(harness().artifacts, "unchecked.png"), fullPage: true });

    await check.click();
    await poll(() => claimButton.isEnabled()).toBe(true);
    const before = verified.length;
    expect(await claim(page, id)).toEqual({ status: 201, token: DUMMY_TOKEN });
    expect(verified.slice(before)).toEqual([DUMMY_TOKEN]);
    await poll(() => page.getByRole("status").textContent()).toBe("You got a coupon!");
    expect(await page.locator("#coupon-id").textContent()).toMatch(/^cpn_/);
    // The token is spent: the widget asks again.
    expect((await widget(page)).resets).toBe(1);
    await check.waitFor();
    await page.screenshot({ path: join(harness().artifacts, "claimed.png"), fullPage: true });
    expect(errors).toEqual([]);
  });

  it("shows the check's refusal in English and Korean and issues nothing", async () => {
    const id = await createEvent(2);
    verifyWith = TEST_SECRETS.fail;
    try {
      const { page, errors } = await open(id, "turnstile-bob", [403, 404]);
      await page.getByRole("button", { name: "Verify you are human" }).click();
      expect(await claim(page, id)).toEqual({ status: 403, token: DUMMY_TOKEN });
      await poll(() => page.getByRole("status").textContent()).toBe(
        "The security check did not go through. Please complete it again.",
      );
      expect(await page.locator("#coupon").isHidden()).toBe(true);
      expect((await widget(page)).resets).toBe(1);
      expect(await page.getByRole("button", { name: "Get my coupon" }).isDisabled()).toBe(true);
      expect(await eventStock(id)).toMatchObject({ issued: 0, remaining: 2 });

      // The widget is drawn again in the page's language; the message follows it too.
      await page.getByRole("button", { name: "한국어로 보기" }).click();
      expect(await page.getByRole("status").textContent()).toBe(
        "보안 확인이 통과되지 않았습니다. 다시 확인해 주세요.",
      );
      expect((await widget(page)).renders.map((r) => r.language)).toEqual(["en", "ko"]);
      await page.screenshot({ path: join(harness().artifacts, "refused-ko.png"), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      verifyWith = TEST_SECRETS.pass;
    }
  });

  it("the page learns the site key, and only its policy lets Cloudflare's widget in", async () => {
    const settings = await fetch(`${harness().worker.url}/claim/settings.json`);
    expect(settings.headers.get("Cache-Control")).toBe("no-store");
    expect(await settings.json()).toEqual({ turnstileSiteKey: SITE_KEY });

    const csp = async (path: string) => {
      const res = await fetch(`${harness().worker.url}${path}`);
      await res.body?.cancel();
      return res.headers.get("Content-Security-Policy") ?? "";
    };
    const claimPolicy = await csp("/claim");
    expect(claimPolicy).toContain("script-src 'self' https://challenges.cloudflare.com;");
    expect(claimPolicy).toContain("frame-src https://challenges.cloudflare.com;");
    expect(claimPolicy).toContain("default-src 'none'");
    expect(await csp("/dashboard")).not.toContain("challenges.cloudflare.com");
  });
});
