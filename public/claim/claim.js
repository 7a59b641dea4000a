// The claim page: /claim?event=<id>. Plain JavaScript, no framework (type-checked with JSDoc by
// tsconfig.pages.json); talks to this API only.

/** @typedef {import("../../clients/typescript/src/schema.d.ts").components["schemas"]} Schemas */
/** @typedef {Schemas["Event"]} CouponEvent */
/** @typedef {Schemas["Coupon"]} Coupon */
/**
 * Cloudflare's widget, as its script leaves it on `window` (developers.cloudflare.com/turnstile).
 * @typedef {{
 *   render(container: HTMLElement, options: Record<string, unknown>): string,
 *   remove(widgetId: string): void,
 *   reset(widgetId: string): void,
 * }} Turnstile
 */

const EN = {
  title: "Coupon event",
  switchTo: "한국어",
  switchLabel: "한국어로 보기",
  signinTitle: "Sign in",
  tokenLabel: "Your sign-in token",
  signin: "Sign in",
  signedIn: "Signed in.",
  signout: "Sign out",
  remaining: "Remaining",
  issued: "Claimed",
  total: "Total",
  waves: "Release schedule",
  claim: "Get my coupon",
  claiming: "Claiming…",
  couponTitle: "Your coupon",
  couponId: "Code",
  couponStatus: "Status",
  couponExpires: "Valid until",
  noExpiry: "No expiry",
  noEvent: "No such event. Check the link.",
  startsIn: "Starts in {t}",
  nextWaveIn: "More coupons in {t}",
  wave: "{at}: {n} coupons",
  waveOne: "{at}: 1 coupon",
  state: {
    scheduled: "Not started yet",
    open: "Open now",
    "awaiting-release": "Waiting for the next release",
    paused: "Paused",
    "sold-out": "Sold out",
    ended: "Ended",
  },
  status: { issued: "Ready to use", redeemed: "Used", expired: "Expired" },
  got: "You got a coupon!",
  already: "You already have this coupon.",
  "sold-out": "Sorry, all coupons are gone.",
  "awaiting-release": "The coupons released so far are gone. More in {t}.",
  "not-started": "Not started yet. Try again in {t}.",
  paused: "The event is paused. Please try again later.",
  ended: "The event has ended.",
  "rate-limited": "Too many tries. Try again in {t}.",
  unavailable: "Very busy right now. Try again in {t}.",
  unauthorized: "Please sign in again.",
  "not-found": "No such event.",
  network: "Network problem. Please try again.",
  other: "Something went wrong ({status}). Please try again.",
  signinFirst: "Sign in to claim a coupon.",
  challenge: "The security check did not go through. Please complete it again.",
  challengeExpired: "The security check expired. Please complete it again.",
  challengeError: "The security check could not be completed. Please try it again.",
  challengeLoad: "The security check could not load. Please reload the page.",
  closedStart: "Claims open at {at} (in {t}).",
  closedWave: "Nothing to claim until the next release at {at} (in {t}).",
};
/** @type {typeof EN} */
const KO = {
  title: "쿠폰 이벤트",
  switchTo: "English",
  switchLabel: "View in English",
  signinTitle: "로그인",
  tokenLabel: "로그인 토큰",
  signin: "로그인",
  signedIn: "로그인되었습니다.",
  signout: "로그아웃",
  remaining: "남은 수량",
  issued: "발급됨",
  total: "전체",
  waves: "발급 일정",
  claim: "쿠폰 받기",
  claiming: "요청 중…",
  couponTitle: "내 쿠폰",
  couponId: "쿠폰 코드",
  couponStatus: "상태",
  couponExpires: "사용 기한",
  noExpiry: "기한 없음",
  noEvent: "이벤트를 찾을 수 없습니다. 링크를 확인해 주세요.",
  startsIn: "{t} 후 시작",
  nextWaveIn: "{t} 후 추가 발급",
  wave: "{at}: {n}장",
  waveOne: "{at}: 1장",
  state: {
    scheduled: "시작 전",
    open: "진행 중",
    "awaiting-release": "다음 발급 대기 중",
    paused: "일시 중지됨",
    "sold-out": "소진",
    ended: "종료됨",
  },
  status: { issued: "사용 가능", redeemed: "사용 완료", expired: "만료됨" },
  got: "쿠폰을 받았습니다!",
  already: "이미 받은 쿠폰입니다.",
  "sold-out": "죄송합니다. 쿠폰이 모두 소진되었습니다.",
  "awaiting-release": "지금까지 풀린 쿠폰이 모두 소진되었습니다. {t} 후 추가 발급됩니다.",
  "not-started": "아직 시작 전입니다. {t} 후 다시 시도해 주세요.",
  paused: "이벤트가 일시 중지되었습니다. 잠시 후 다시 시도해 주세요.",
  ended: "이벤트가 종료되었습니다.",
  "rate-limited": "요청이 너무 많습니다. {t} 후 다시 시도해 주세요.",
  unavailable: "지금 접속이 많습니다. {t} 후 다시 시도해 주세요.",
  unauthorized: "다시 로그인해 주세요.",
  "not-found": "이벤트를 찾을 수 없습니다.",
  network: "네트워크 문제가 있습니다. 다시 시도해 주세요.",
  other: "문제가 발생했습니다 ({status}). 다시 시도해 주세요.",
  signinFirst: "쿠폰을 받으려면 로그인해 주세요.",
  challenge: "보안 확인이 통과되지 않았습니다. 다시 확인해 주세요.",
  challengeExpired: "보안 확인 시간이 지났습니다. 다시 확인해 주세요.",
  challengeError: "보안 확인을 완료하지 못했습니다. 다시 시도해 주세요.",
  challengeLoad: "보안 확인을 불러오지 못했습니다. 페이지를 새로고침해 주세요.",
  closedStart: "{at}에 시작합니다 ({t} 남음).",
  closedWave: "다음 발급({at})까지 받을 수 있는 쿠폰이 없습니다 ({t} 남음).",
};
const TEXT = { en: EN, ko: KO };

/** The keys of plain texts (not the tables `state` and `status`). */
/** @typedef {{ [K in keyof typeof EN]: (typeof EN)[K] extends string ? K : never }[keyof typeof EN]} Key */
/** @typedef {"en" | "ko"} Lang */
/**
 * The message under the button: a text's key; `countdown` when it counts down to `retryUntil`,
 * `widget` when it is about the Turnstile widget.
 * @typedef {{ key: Key, ok?: boolean, countdown?: boolean, widget?: boolean, status?: number }} Message
 */

/**
 * The element with this id, checked to be a `type` (a missing or different element is a bug).
 * @template {typeof HTMLElement} C
 * @param {string} id
 * @param {C} type
 * @returns {InstanceType<C>}
 */
function el(id, type) {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return /** @type {InstanceType<C>} */ (found);
}
/** @param {string} id */
const $ = (id) => el(id, HTMLElement);

/** @param {string} s @returns {s is Key} */
const isKey = (s) =>
  Object.hasOwn(EN, s) && typeof EN[/** @type {keyof typeof EN} */ (s)] === "string";
/** @param {string | null} s @returns {s is Lang} */
const isLang = (s) => s === "en" || s === "ko";
/** The widget, once its script has run. */
const turnstile = () =>
  /** @type {{ turnstile?: Turnstile }} */ (/** @type {unknown} */ (window)).turnstile;

const eventId = new URLSearchParams(location.search).get("event") ?? "";
const TOKEN_KEY = "coupon-token";
const LANG_KEY = "coupon-lang";
// Cloudflare's widget, loaded from Cloudflare itself (it must not be proxied or cached).
const TURNSTILE_SCRIPT = "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit";
const TURNSTILE_HEADER = "CF-Turnstile-Response";
/** The problems whose `Retry-After` the message counts down. */
const COUNTDOWNS = ["awaiting-release", "not-started", "rate-limited", "unavailable"];

const storedLang = sessionStorage.getItem(LANG_KEY);
/** @type {Lang} */
let lang = isLang(storedLang)
  ? storedLang
  : (navigator.languages?.[0] ?? navigator.language ?? "en").toLowerCase().startsWith("ko")
    ? "ko"
    : "en";
/** @type {CouponEvent | null} */
let event = null;
/** @type {Coupon | null} */
let coupon = null;
/** @type {Message | null} the last claim answer's message */
let message = null;
let retryUntil = 0;
let busy = false;
/** @type {string | null | undefined} Turnstile's site key when claims need it, null when not, undefined until the page knows. */
let siteKey;
/** @type {HTMLScriptElement | null} */
let widgetScript = null;
/** @type {string | null} */
let widget = null;
/** @type {string | null} The widget's token: single use, so each claim spends it and the widget is reset after. */
let challengeToken = null;

/** @param {string} key */
const t = (key) => (isKey(key) ? TEXT[lang][key] : key);
/**
 * @param {string} text
 * @param {Record<string, string | number>} values
 */
const fill = (text, values) =>
  text.replace(/\{(\w+)\}/g, (_, /** @type {string} */ name) => String(values[name] ?? ""));

/** @param {number} ms */
function duration(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  /** @param {number} n */
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

/** @param {string} iso */
function when(iso) {
  return new Intl.DateTimeFormat(lang === "ko" ? "ko-KR" : "en-GB", {
    dateStyle: "medium",
    timeStyle: "short",
  }).format(new Date(iso));
}

/** A time of day, with its date when it is not today. @param {string} iso */
function timeOf(iso) {
  const d = new Date(iso);
  if (d.toDateString() !== new Date().toDateString()) return when(iso);
  return new Intl.DateTimeFormat(lang === "ko" ? "ko-KR" : "en-GB", {
    timeStyle: "short",
  }).format(d);
}

/**
 * Until when nothing can be claimed, and why: before the start, and while the stock released so
 * far is gone and a wave is still to come. Null when a claim may succeed. Read from this
 * browser's clock, so the button comes back on its own when that instant passes.
 * @param {number} now
 * @returns {{ key: Key, at: string } | null}
 */
function closedUntil(now) {
  if (!event) return null;
  if (event.state === "scheduled" && Date.parse(event.startsAt) > now)
    return { key: "closedStart", at: event.startsAt };
  if (event.state === "awaiting-release" && event.nextWaveAt && Date.parse(event.nextWaveAt) > now)
    return { key: "closedWave", at: event.nextWaveAt };
  return null;
}

function render() {
  document.documentElement.lang = lang;
  document.title = event ? `${event.name} · ${t("title")}` : t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) {
    if (node instanceof HTMLElement) node.textContent = t(node.dataset.i18n ?? "");
  }
  const switcher = $("lang");
  switcher.textContent = t("switchTo");
  switcher.setAttribute("aria-label", t("switchLabel"));
  switcher.setAttribute("lang", lang === "ko" ? "en" : "ko");

  const token = sessionStorage.getItem(TOKEN_KEY);
  $("signin-form").hidden = Boolean(token);
  $("signed-in").hidden = !token;

  if (event) {
    $("event").hidden = false;
    $("event-name").textContent = event.name;
    $("event-state").textContent = TEXT[lang].state[event.state] ?? event.state;
    $("remaining").textContent = String(event.remaining);
    $("issued").textContent = String(event.issued);
    $("total").textContent = String(event.totalStock);
    $("waves").replaceChildren(
      ...event.waves.map((w) => {
        const li = document.createElement("li");
        li.textContent = fill(t(w.quantity === 1 ? "waveOne" : "wave"), {
          at: when(w.at),
          n: w.quantity,
        });
        return li;
      }),
    );
    ticks();
  }
  if (coupon) {
    $("coupon").hidden = false;
    $("coupon-id").textContent = coupon.id;
    $("coupon-status").textContent = TEXT[lang].status[coupon.status] ?? coupon.status;
    $("coupon-expires").textContent = coupon.expiresAt ? when(coupon.expiresAt) : t("noExpiry");
  }
}

/** What changes every second: countdowns, the message's countdown, the button and its reason. */
function ticks() {
  const now = Date.now();
  let countdown = "";
  if (event?.state === "scheduled")
    countdown = fill(t("startsIn"), { t: duration(Date.parse(event.startsAt) - now) });
  else if (event?.nextWaveAt && (event.state === "awaiting-release" || event.state === "open"))
    countdown = fill(t("nextWaveIn"), { t: duration(Date.parse(event.nextWaveAt) - now) });
  if ($("countdown").textContent !== countdown) $("countdown").textContent = countdown;

  const said = $("message");
  const text = message
    ? fill(t(message.key), { t: duration(retryUntil - now), status: message.status ?? "" })
    : "";
  if (said.textContent !== text) said.textContent = text;
  said.className = message?.ok ? "ok" : message ? "error" : "";

  const closed = coupon ? null : closedUntil(now);
  const reason = closed
    ? fill(t(closed.key), { at: timeOf(closed.at), t: duration(Date.parse(closed.at) - now) })
    : "";
  const reasonEl = $("reason");
  if (reasonEl.textContent !== reason) reasonEl.textContent = reason;
  reasonEl.hidden = !closed;

  const button = el("claim", HTMLButtonElement);
  const waiting = retryUntil > now;
  const unchecked = siteKey === undefined || (siteKey !== null && !challengeToken);
  button.disabled = busy || waiting || Boolean(coupon) || unchecked || Boolean(closed);
  button.textContent = busy ? t("claiming") : t("claim");
  if (message && !waiting && retryUntil !== 0 && message.countdown) {
    // The wait is over: the countdown message has said all it can.
    retryUntil = 0;
    message = null;
  }
}

/**
 * @param {string} path
 * @param {RequestInit & { headers?: Record<string, string> }} [init]
 */
async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  /** @type {Record<string, string>} */
  const headers = { ...init.headers };
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(path, { ...init, headers });
}

async function loadSettings() {
  try {
    const res = await fetch("/claim/settings.json");
    if (!res.ok) return; // asked again with the next poll
    /** @type {{ turnstileSiteKey?: string | null }} */
    const settings = await res.json();
    siteKey = settings.turnstileSiteKey ?? null;
  } catch {
    return;
  }
  if (siteKey && !widgetScript) {
    $("challenge").hidden = false;
    const script = document.createElement("script");
    script.src = TURNSTILE_SCRIPT;
    script.onload = renderWidget;
    script.onerror = () => {
      message = { key: "challengeLoad" };
      ticks();
    };
    widgetScript = script;
    document.head.append(script);
  }
  ticks();
}

/** (Re)draws the widget: its language is fixed when it is drawn. */
function renderWidget() {
  const api = turnstile();
  if (!api) return;
  if (widget !== null) api.remove(widget);
  challengeToken = null;
  /** @param {Key} key */
  const lost = (key) => {
    challengeToken = null;
    // Someone who holds a coupon keeps its message: the widget no longer matters to them.
    if (!coupon) message = { key, widget: true };
    ticks();
  };
  widget = api.render($("challenge"), {
    sitekey: siteKey,
    language: lang,
    action: "claim",
    callback: (/** @type {string} */ token) => {
      challengeToken = token;
      if (message?.widget) message = null;
      ticks();
    },
    "expired-callback": () => lost("challengeExpired"),
    "error-callback": () => {
      lost("challengeError");
      return true; // handled: Turnstile retries by itself
    },
  });
  ticks();
}

async function loadEvent() {
  if (!eventId) {
    $("not-found").hidden = false;
    return;
  }
  try {
    const res = await api(`/v1/events/${encodeURIComponent(eventId)}`);
    if (res.status === 404) {
      $("not-found").hidden = false;
      return;
    }
    if (res.ok) event = /** @type {CouponEvent} */ (await res.json());
  } catch {
    // The next poll tries again.
  }
  render();
}

async function loadCoupon() {
  if (!eventId || !sessionStorage.getItem(TOKEN_KEY)) return;
  try {
    const res = await api(`/v1/events/${encodeURIComponent(eventId)}/claims/me`);
    if (res.ok) coupon = /** @type {Coupon} */ (await res.json());
    else if (res.status === 401) signOut("unauthorized");
  } catch {
    // Shown on the next claim.
  }
  render();
}

async function claim() {
  if (!sessionStorage.getItem(TOKEN_KEY)) {
    message = { key: "signinFirst" };
    render();
    $("token").focus();
    return;
  }
  busy = true;
  message = null;
  render();
  /** @type {Record<string, string>} */
  const headers = siteKey && challengeToken ? { [TURNSTILE_HEADER]: challengeToken } : {};
  challengeToken = null; // spent by this claim, whatever the answer
  try {
    const res = await api(`/v1/events/${encodeURIComponent(eventId)}/claims`, {
      method: "POST",
      headers,
    });
    /** @type {unknown} */
    const answer = await res.json().catch(() => ({}));
    /** @type {{ type?: unknown, challenge?: unknown }} the problem's members read here */
    const body = typeof answer === "object" && answer !== null ? answer : {};
    if (res.status === 201 || res.status === 200) {
      coupon = /** @type {Coupon} */ (answer);
      message = { key: res.status === 201 ? "got" : "already", ok: true };
    } else if (res.status === 403 && body.challenge === "turnstile") {
      message = { key: "challenge" };
      // Turnstile was switched on since this page asked: ask again, and show the widget.
      if (siteKey === null) loadSettings();
    } else {
      const slug = typeof body.type === "string" ? body.type.replace(/^\/problems\//, "") : "";
      const retry = Number(res.headers.get("Retry-After"));
      const countdown = COUNTDOWNS.includes(slug);
      if (countdown)
        retryUntil = Date.now() + (Number.isFinite(retry) && retry > 0 ? retry : 1) * 1000;
      if (slug === "unauthorized") signOut("unauthorized");
      message = isKey(slug) ? { key: slug, countdown } : { key: "other", status: res.status };
    }
  } catch {
    message = { key: "network" };
  } finally {
    busy = false;
    if (widget !== null) turnstile()?.reset(widget);
  }
  render(); // the coupon and its message together, before the stock is read again
  await loadEvent();
}

/** @param {Key | null} reason */
function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  coupon = null;
  $("coupon").hidden = true;
  if (reason) message = { key: reason };
  render();
}

el("signin-form", HTMLFormElement).addEventListener("submit", (e) => {
  e.preventDefault();
  const input = el("token", HTMLInputElement);
  const token = input.value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  input.value = "";
  message = null;
  render();
  loadCoupon();
  $("claim").focus();
});
$("signout").addEventListener("click", () => signOut(null));
$("claim").addEventListener("click", claim);
$("lang").addEventListener("click", () => {
  lang = lang === "ko" ? "en" : "ko";
  sessionStorage.setItem(LANG_KEY, lang);
  render();
  if (widget !== null) renderWidget();
});

render();
loadSettings();
loadEvent();
loadCoupon();
setInterval(ticks, 250);
// At most a couple of seconds stale: the API serves reads from a 1 s cache at the edge.
setInterval(() => {
  loadEvent();
  if (siteKey === undefined) loadSettings(); // its first answer did not come
}, 2000);
