// The claim page: /claim?event=<id>. Plain JavaScript, no framework (type-checked with JSDoc by
// tsconfig.pages.json); talks to this API only.

/** @typedef {import("../../clients/typescript/src/schema.d.ts").components["schemas"]} Schemas */
/** @typedef {Schemas["Event"]} CouponEvent */
/** @typedef {Schemas["Coupon"]} Coupon */
/** @typedef {Schemas["QueueStatus"]} QueueStatus */
/** @typedef {Schemas["QueueTicket"]} QueueTicket */
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
  roomTitle: "Waiting room",
  join: "Join the waiting room",
  joining: "Joining…",
  roomOpens: "The waiting room opens at {at} (in {t}).",
  roomFirst: "Claims go through the waiting room: join it first.",
  roomTurn: "You can claim when your turn comes.",
  roomJoined: "You are in the waiting room. The draw is at {at}.",
  roomDrawing: "The draw is being made: your place comes in a moment.",
  roomPlace: "Your place: {n}. Admitted through {m}.",
  roomWait: "Waiting for your turn.",
  roomWaitAbout: "Waiting for your turn: about {s} s to go.",
  roomAdmitted: "You're in: claim now.",
  roomLeft: "{t} left to claim",
  roomLapsed: "Your turn passed without a claim: the place went to the next user.",
  roomSoldOut: "Sorry, all coupons are gone.",
  roomEnded: "The event has ended.",
  queued: "It is not your turn (any more): back to the waiting room.",
  drawTitle: "How the order is drawn",
  drawText:
    "Everyone who joins before the start is placed by a draw: your draw value is HMAC-SHA256 of your user id, keyed with the seed, and smaller values come first. Later joiners follow in the order they joined.",
  drawCheck:
    'The seed was fixed before the room opened and its SHA-256 (the commitment) is shown from the start; the seed itself is shown from the start time, so anyone can recompute it (docs/waiting-room.md, "Recompute your place").',
  commitment: "Commitment (SHA-256 of the seed)",
  seed: "Seed",
  seedLater: "Shown at the start ({at}).",
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
  roomTitle: "대기실",
  join: "대기실 입장",
  joining: "입장 중…",
  roomOpens: "대기실은 {at}에 열립니다 ({t} 남음).",
  roomFirst: "쿠폰은 대기실을 거쳐 받을 수 있습니다. 먼저 입장해 주세요.",
  roomTurn: "차례가 되면 쿠폰을 받을 수 있습니다.",
  roomJoined: "대기실에 입장했습니다. 추첨은 {at}에 진행됩니다.",
  roomDrawing: "추첨 중입니다. 곧 순번이 나옵니다.",
  roomPlace: "내 순번: {n}. {m}번까지 입장했습니다.",
  roomWait: "차례를 기다리는 중입니다.",
  roomWaitAbout: "차례를 기다리는 중입니다. 약 {s}초 남았습니다.",
  roomAdmitted: "차례가 되었습니다. 지금 쿠폰을 받으세요.",
  roomLeft: "남은 시간 {t}",
  roomLapsed: "차례가 지나 순번이 다음 사용자에게 넘어갔습니다.",
  roomSoldOut: "죄송합니다. 쿠폰이 모두 소진되었습니다.",
  roomEnded: "이벤트가 종료되었습니다.",
  queued: "아직(또는 더 이상) 차례가 아닙니다. 대기실로 돌아갑니다.",
  drawTitle: "순번을 정하는 방법",
  drawText:
    "시작 전에 입장한 모든 사용자의 순번은 추첨으로 정해집니다. 시드를 키로 한 사용자 ID의 HMAC-SHA256 값이 작을수록 앞 순번입니다. 시작 후 입장한 사용자는 입장한 순서대로 그 뒤에 섭니다.",
  drawCheck:
    '시드는 대기실이 열리기 전에 정해지며, 그 SHA-256 값(커밋)은 처음부터 공개됩니다. 시드는 시작 시각에 공개되므로 누구나 순번을 다시 계산할 수 있습니다 (docs/waiting-room.md, "Recompute your place").',
  commitment: "커밋 (시드의 SHA-256)",
  seed: "시드",
  seedLater: "시작 시각({at})에 공개됩니다.",
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
const QUEUE_HEADER = "Queue-Ticket";
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
/** @type {string | null} This user's waiting-room ticket for the event (sent as `Queue-Ticket`). */
let ticket = null;
/** @type {QueueStatus | null} The room's last answer about this user. */
let room = null;
let joining = false;
/** The status polls in flight are numbered: an answer to an older one is dropped. */
let roomPoll = 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let roomTimer;

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

/** The signed-in user's id (the token's `sub`), read from the token: it keys the stored ticket. */
function subject() {
  const part = sessionStorage.getItem(TOKEN_KEY)?.split(".")[1];
  if (!part) return null;
  try {
    /** @type {unknown} */
    const claims = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
    const sub =
      typeof claims === "object" && claims !== null && "sub" in claims ? claims.sub : null;
    return typeof sub === "string" ? sub : null;
  } catch {
    return null;
  }
}

/** Where this user's ticket for this event is kept (per tab, as the token is). */
function ticketKey() {
  const sub = subject();
  return sub ? `coupon-queue:${eventId}:${sub}` : null;
}

/** The stored ticket of the user now signed in; its status is asked for at once. */
function loadTicket() {
  const key = ticketKey();
  ticket = key ? sessionStorage.getItem(key) : null;
  room = null;
  clearTimeout(roomTimer);
  if (ticket) pollRoom();
}

/** @param {string | null} value */
function keepTicket(value) {
  ticket = value;
  const key = ticketKey();
  if (!key) return;
  if (value) sessionStorage.setItem(key, value);
  else sessionStorage.removeItem(key);
}

/**
 * What the waiting room shows, from the event, this user's ticket and the room's last answer:
 * the status and the place (announced), the timer (not announced), the join button, and whether
 * a claim may be made now (else why not). Null for an event without a room.
 * @param {number} now
 * @returns {{ status: string, place: string, timer: string, join: "hidden" | "on" | "off", joinReason: string, claimable: boolean, claimReason: string } | null}
 */
function roomView(now) {
  const q = event?.queue;
  if (!event || !q) return null;
  const view = {
    status: "",
    place: "",
    timer: "",
    /** @type {"hidden" | "on" | "off"} */
    join: "hidden",
    joinReason: "",
    claimable: false,
    claimReason: "",
  };
  if (coupon) return view;
  if (event.state === "ended" || room?.state === "ended")
    return { ...view, status: t("roomEnded") };
  if (event.state === "sold-out" || room?.state === "sold-out")
    return { ...view, status: t("roomSoldOut") };
  if (!ticket) {
    const opens = Date.parse(q.opensAt);
    const early = opens > now;
    return {
      ...view,
      join: early || joining ? "off" : "on",
      joinReason: early
        ? fill(t("roomOpens"), { at: timeOf(q.opensAt), t: duration(opens - now) })
        : "",
      claimReason: t("roomFirst"),
    };
  }
  const place =
    room?.position == null
      ? ""
      : fill(t("roomPlace"), { n: room.position, m: room.admittedThrough });
  const waiting = { ...view, place, claimReason: t("roomTurn") };
  if (!room) return { ...waiting, status: fill(t("roomJoined"), { at: timeOf(event.startsAt) }) };
  const until = room.admittedUntil ? Date.parse(room.admittedUntil) : 0;
  if (room.state === "admitted" && until > now) {
    return {
      ...view,
      place,
      status: t("roomAdmitted"),
      timer: fill(t("roomLeft"), { t: duration(until - now) }),
      claimable: true,
    };
  }
  if (room.lapsed || room.state === "admitted") return { ...view, place, status: t("roomLapsed") };
  if (room.position === null) {
    const key = Date.parse(event.startsAt) > now ? "roomJoined" : "roomDrawing";
    return { ...waiting, status: fill(t(key), { at: timeOf(event.startsAt) }) };
  }
  const s = room.estimatedWaitSeconds;
  return { ...waiting, status: s === null ? t("roomWait") : fill(t("roomWaitAbout"), { s }) };
}

/** Sets a node's text only when it changes (a live region announces each change). @param {string} id @param {string} text */
function say(id, text) {
  const node = $(id);
  if (node.textContent !== text) node.textContent = text;
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
    const q = event.queue;
    $("room").hidden = !q;
    if (q) {
      say("commitment", q.seedCommitment);
      say("seed", q.seed ?? fill(t("seedLater"), { at: when(event.startsAt) }));
    }
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

  const seated = roomView(now);
  if (seated) {
    say("room-status", seated.status);
    say("room-place", seated.place);
    say("room-timer", seated.timer);
    const join = el("join", HTMLButtonElement);
    join.hidden = seated.join === "hidden";
    join.disabled = seated.join !== "on";
    join.textContent = joining ? t("joining") : t("join");
    say("join-reason", seated.joinReason);
    $("join-reason").hidden = !seated.joinReason;
  }

  // A room event's claim waits for the room's admission (which comes only after the start).
  const closed = coupon || seated ? null : closedUntil(now);
  const reason = closed
    ? fill(t(closed.key), { at: timeOf(closed.at), t: duration(Date.parse(closed.at) - now) })
    : (seated?.claimReason ?? "");
  const reasonEl = $("reason");
  if (reasonEl.textContent !== reason) reasonEl.textContent = reason;
  reasonEl.hidden = !reason;

  const button = el("claim", HTMLButtonElement);
  const waiting = retryUntil > now;
  const unchecked = siteKey === undefined || (siteKey !== null && !challengeToken);
  const unseated = seated !== null && !seated.claimable;
  button.disabled = busy || waiting || Boolean(coupon) || unchecked || Boolean(closed) || unseated;
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

/** A problem's slug (its `type` without `/problems/`). @param {{ type?: unknown }} body */
const slugOf = (body) =>
  typeof body.type === "string" ? body.type.replace(/^\/problems\//, "") : "";

/**
 * The message for a refused call; the problems that say when to try again count down to it.
 * @param {Response} res
 * @param {{ type?: unknown }} body
 */
function refused(res, body) {
  const slug = slugOf(body);
  const retry = Number(res.headers.get("Retry-After"));
  const countdown = COUNTDOWNS.includes(slug);
  if (countdown) retryUntil = Date.now() + (Number.isFinite(retry) && retry > 0 ? retry : 1) * 1000;
  if (slug === "unauthorized") signOut("unauthorized");
  message = isKey(slug) ? { key: slug, countdown } : { key: "other", status: res.status };
}

/**
 * Whether a user token is held; if not, says so and puts the focus on the token field.
 * @returns {boolean}
 */
function signedIn() {
  if (sessionStorage.getItem(TOKEN_KEY)) return true;
  message = { key: "signinFirst" };
  render();
  $("token").focus();
  return false;
}

/** Joins the event's waiting room (again with the ticket held, which keeps the same one). */
async function join() {
  if (!signedIn()) return;
  joining = true;
  message = null;
  render();
  try {
    const res = await api(`/v1/events/${encodeURIComponent(eventId)}/queue`, {
      method: "POST",
      headers: ticket ? { [QUEUE_HEADER]: ticket } : {},
    });
    /** @type {unknown} */
    const answer = await res.json().catch(() => ({}));
    /** @type {{ type?: unknown, ticket?: unknown }} */
    const body = typeof answer === "object" && answer !== null ? answer : {};
    if ((res.status === 201 || res.status === 200) && typeof body.ticket === "string") {
      keepTicket(body.ticket);
      room = null;
      pollRoom();
    } else {
      refused(res, body);
    }
  } catch {
    message = { key: "network" };
  } finally {
    joining = false;
  }
  render();
  // The button is gone once joined: the status it led to takes the focus.
  if (ticket) $("room-status").focus();
}

/**
 * Asks the room for this user's status, and again when its `Retry-After` says (while admitted,
 * every few seconds until the admission ends; never again once sold out or ended).
 */
async function pollRoom() {
  clearTimeout(roomTimer);
  const asked = ++roomPoll;
  if (!ticket) return;
  let again = 5;
  try {
    const res = await api(`/v1/events/${encodeURIComponent(eventId)}/queue/me`, {
      headers: { [QUEUE_HEADER]: ticket },
    });
    if (asked !== roomPoll) return; // a newer poll has started
    const retry = Number(res.headers.get("Retry-After"));
    if (res.ok) {
      room = /** @type {QueueStatus} */ (await res.json());
      const until = room.admittedUntil ? Date.parse(room.admittedUntil) : 0;
      if (room.state === "sold-out" || room.state === "ended") again = 0;
      else if (Number.isFinite(retry) && retry > 0) again = retry;
      else if (room.state === "admitted") again = Math.min(5, (until - Date.now()) / 1000 + 1);
    } else if (res.status === 404) {
      // Not this user's or this event's ticket: forget it, and offer to join again.
      keepTicket(null);
      room = null;
      again = 0;
    } else if (res.status === 401) {
      signOut("unauthorized");
      again = 0;
    } else if (Number.isFinite(retry) && retry > 0) {
      again = retry;
    }
  } catch {
    if (asked !== roomPoll) return;
    again = 3;
  }
  render();
  if (again > 0) roomTimer = setTimeout(pollRoom, Math.max(1, again) * 1000);
}

async function claim() {
  if (!signedIn()) return;
  busy = true;
  message = null;
  render();
  /** @type {Record<string, string>} */
  const headers = siteKey && challengeToken ? { [TURNSTILE_HEADER]: challengeToken } : {};
  if (ticket) headers[QUEUE_HEADER] = ticket;
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
    } else if (slugOf(body) === "queued") {
      // Not admitted (yet, or any more): back to the room, whose status is asked for at once.
      message = { key: "queued" };
      if (room) room = { ...room, state: "waiting", admittedUntil: null };
      if (ticket) pollRoom();
    } else {
      refused(res, body);
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
  ticket = null; // kept in storage under this user's key, for when they sign in again
  room = null;
  roomPoll++;
  clearTimeout(roomTimer);
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
  loadTicket();
  // A room event is joined first: its button takes the focus.
  (event?.queue && !ticket ? $("join") : $("claim")).focus();
});
$("signout").addEventListener("click", () => signOut(null));
$("claim").addEventListener("click", claim);
$("join").addEventListener("click", join);
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
loadTicket();
setInterval(ticks, 250);
// At most a couple of seconds stale: the API serves reads from a 1 s cache at the edge.
setInterval(() => {
  loadEvent();
  if (siteKey === undefined) loadSettings(); // its first answer did not come
}, 2000);
