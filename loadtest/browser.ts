/**
 * Headless Chromium for `report.png` and the report's end-to-end test: Debian's `chromium`
 * (/usr/bin/chromium, or LOADTEST_CHROMIUM) driven by playwright-core, never a browser that a
 * tool downloads. When it is missing, it is installed with apt when running as root; otherwise
 * the caller is told the command. Likewise a font with Korean glyphs (the claim page speaks
 * Korean): Debian's chromium brings none, and Hangul would be drawn as boxes.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

export const INSTALL_COMMAND = "sudo apt-get install -y chromium";
/** Noto Sans/Serif CJK: what fontconfig picks for `lang=ko` once installed (~57 MB download). */
export const KOREAN_FONT_PACKAGE = "fonts-noto-cjk";

export function chromiumPath(): string {
  return process.env.LOADTEST_CHROMIUM ?? "/usr/bin/chromium";
}

/** `apt-get install` of one package, after an `apt-get update` when the first try fails. */
function aptInstall(pkg: string): { ok: boolean; error: string } {
  const apt = (...args: string[]) =>
    spawnSync("apt-get", args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      encoding: "utf8",
    });
  let r = apt("install", "-y", "--no-install-recommends", pkg);
  if (r.status !== 0) {
    apt("update");
    r = apt("install", "-y", "--no-install-recommends", pkg);
  }
  return {
    ok: r.status === 0,
    error: (r.stderr || r.error?.message || "").trim().split("\n").at(-1) ?? "",
  };
}

/** Whether fontconfig knows a font with Korean glyphs (false when it cannot be asked). */
function hasKoreanFont(): boolean {
  const r = spawnSync("fc-list", [":lang=ko", "family"], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() !== "";
}

/**
 * Installs a Korean font when there is none and we are root; otherwise logs the command. Never
 * fails the caller: without it pages still render, Korean as boxes.
 */
function ensureKoreanFont(log: (line: string) => void): void {
  if (hasKoreanFont()) return;
  const command = `sudo apt-get install -y ${KOREAN_FONT_PACKAGE}`;
  if (process.getuid?.() !== 0) {
    log(`no font with Korean glyphs (fc-list :lang=ko); Korean will show as boxes: ${command}`);
    return;
  }
  log(`installing Debian's ${KOREAN_FONT_PACKAGE} (apt-get install -y ${KOREAN_FONT_PACKAGE})…`);
  const r = aptInstall(KOREAN_FONT_PACKAGE);
  if (!r.ok || !hasKoreanFont()) {
    log(
      `apt-get install -y ${KOREAN_FONT_PACKAGE} failed: ${r.error || "no Korean font after it"}`,
    );
  }
}

/**
 * The browser's path, installing Debian's package first when it is missing and we are root;
 * a sentence saying why not otherwise. A Korean font is installed the same way when missing.
 */
export function ensureChromium(
  log: (line: string) => void = () => undefined,
): { path: string } | { missing: string } {
  const path = chromiumPath();
  if (existsSync(path)) {
    ensureKoreanFont(log);
    return { path };
  }
  if (process.env.LOADTEST_CHROMIUM) return { missing: `LOADTEST_CHROMIUM=${path} does not exist` };
  if (process.getuid?.() !== 0) {
    return { missing: `${path} is missing; install it with: ${INSTALL_COMMAND}` };
  }
  log("installing Debian's chromium (apt-get install -y chromium)…");
  const r = aptInstall("chromium");
  if (!r.ok || !existsSync(path)) {
    return { missing: `apt-get install -y chromium failed: ${r.error}` };
  }
  ensureKoreanFont(log);
  return { path };
}

/** Launches headless Chromium (Playwright gives it a fresh, temporary profile) and opens a page. */
export async function launch(path: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: path,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
  try {
    const context = await browser.newContext({
      viewport: { width: 1500, height: 1000 },
      deviceScaleFactor: 1,
    });
    return { browser, page: await context.newPage() };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

export interface RenderedChart {
  id: string;
  datasets: number;
  points: number;
  /** Canvas pixels that are not background (something was drawn). */
  inked: number;
}

/**
 * Opens a report page with every request but the file itself refused (it must need no
 * network), waits until its charts are drawn, and reports them.
 */
export async function openReport(
  page: Page,
  htmlFile: string,
): Promise<{ charts: RenderedChart[]; blocked: string[]; errors: string[] }> {
  const url = pathToFileURL(htmlFile).href;
  const blocked: string[] = [];
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.route("**/*", (route) => {
    if (route.request().url() === url) return route.continue();
    blocked.push(route.request().url());
    return route.abort();
  });
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.rendered === "1", undefined, {
    timeout: 30_000,
  });
  const charts = await page.evaluate(() => {
    const list = (window as unknown as { reportCharts: Omit<RenderedChart, "inked">[] })
      .reportCharts;
    return list.map((c) => {
      const canvas = document.getElementById(c.id) as HTMLCanvasElement;
      const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
      const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 3; i < px.length; i += 4) if ((px[i] as number) > 0) inked++;
      return { ...c, inked };
    });
  });
  return { charts, blocked, errors };
}

/** `report.png`: the whole page, as Chromium draws it. */
export async function renderPng(
  chromiumExe: string,
  htmlFile: string,
  pngFile: string,
): Promise<void> {
  const { browser, page } = await launch(chromiumExe);
  try {
    const { errors } = await openReport(page, htmlFile);
    if (errors.length > 0) throw new Error(`the report page failed: ${errors.join("; ")}`);
    await page.screenshot({ path: pngFile, fullPage: true });
  } finally {
    await browser.close();
  }
}
