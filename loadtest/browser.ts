/**
 * Headless Chromium for `report.png` and the report's end-to-end test: Debian's `chromium`
 * (/usr/bin/chromium, or LOADTEST_CHROMIUM) driven by playwright-core, never a browser that a
 * tool downloads. When it is missing, it is installed with apt when running as root; otherwise
 * the caller is told the command.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

export const INSTALL_COMMAND = "sudo apt-get install -y chromium";

export function chromiumPath(): string {
  return process.env.LOADTEST_CHROMIUM ?? "/usr/bin/chromium";
}

/**
 * The browser's path, installing Debian's package first when it is missing and we are root;
 * a sentence saying why not otherwise.
 */
export function ensureChromium(
  log: (line: string) => void = () => undefined,
): { path: string } | { missing: string } {
  const path = chromiumPath();
  if (existsSync(path)) return { path };
  if (process.env.LOADTEST_CHROMIUM) return { missing: `LOADTEST_CHROMIUM=${path} does not exist` };
  if (process.getuid?.() !== 0) {
    return { missing: `${path} is missing; install it with: ${INSTALL_COMMAND}` };
  }
  log("installing Debian's chromium (apt-get install -y chromium)…");
  const apt = (...args: string[]) =>
    spawnSync("apt-get", args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      encoding: "utf8",
    });
  let r = apt("install", "-y", "--no-install-recommends", "chromium");
  if (r.status !== 0) {
    apt("update");
    r = apt("install", "-y", "--no-install-recommends", "chromium");
  }
  if (r.status !== 0 || !existsSync(path)) {
    return {
      missing: `apt-get install -y chromium failed: ${(r.stderr ?? "").trim().split("\n").at(-1)}`,
    };
  }
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
