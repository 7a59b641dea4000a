/**
 * `GET /v1/me/coupons?cursor=`: any cursor the service did not issue is 400 `invalid-request` (or,
 * for one that decodes to a position, a valid page), never a 5xx. Fuzzed with a seeded PRNG
 * : random JSON, huge, negative and fractional numbers, strings,
 * nesting, base64 garbage, and mutations of a real cursor. A failure names its seed and case.
 */
import { describe, expect, it } from "vitest";
import { prng } from "../../loadtest/prng.ts";
import { drained } from "./cloud.ts";
import { api, asUser, claim, createEvent, problemOf, uniqueId } from "./helpers.ts";

const SEED = Date.now() >>> 0;
const CASES = 400;

const b64url = (text: string): string =>
  btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const latin1 = (text: string) =>
  String.fromCharCode(...new TextEncoder().encode(text).slice(0, 150));

/** A random JSON-ish value: the members a hand-made cursor could hold. */
function randomValue(next: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const numbers = [
    0,
    -1,
    1.5,
    -0.000001,
    1e308,
    -1e308,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 63),
    253_402_300_800_000, // one ms past the column's range
    8.64e15 + 1, // past Date's range
    Number.MAX_SAFE_INTEGER,
    Math.floor(next() * 2 ** 52) * (next() < 0.5 ? -1 : 1),
    next() * 1e20,
  ];
  const strings = [
    "",
    "x",
    "cpn_",
    `cpn_${"A".repeat(22)}`,
    `cpn_${"A".repeat(22)}.evt`,
    `cpn_${"A".repeat(22)}.${"e".repeat(65)}`,
    "'; DROP TABLE user_coupons; --",
    "\u0000",
    "\ud800",
    "😀".repeat(40),
    "a".repeat(120),
    String(next()),
  ];
  const kind = depth > 3 ? Math.floor(next() * 5) : Math.floor(next() * 7);
  switch (kind) {
    case 0:
      return pick(numbers);
    case 1:
      return pick(strings);
    case 2:
      return pick([null, true, false]);
    case 3:
      return pick(numbers);
    case 4:
      return pick(strings);
    case 5:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(next() * 3) }, (_, i) => [
          `k${i}`,
          randomValue(next, depth + 1),
        ]),
      );
  }
}

/** One hand-made cursor: most decode to JSON (the shapes a client could craft), some do not. */
function randomCursor(next: () => number, real: string): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const garbage = (n: number) => Array.from({ length: n }, () => pick([...alphabet])).join("");
  switch (Math.floor(next() * 6)) {
    case 0: // a two-member array, as the service writes, with random members
      return b64url(latin1(JSON.stringify([randomValue(next), randomValue(next)])));
    case 1: // the real cursor's id with a random time, or the real time with a random id
      return b64url(
        latin1(
          JSON.stringify(
            next() < 0.5
              ? [randomValue(next), JSON.parse(atob(real.replace(/-/g, "+").replace(/_/g, "/")))[1]]
              : [
                  JSON.parse(atob(real.replace(/-/g, "+").replace(/_/g, "/")))[0],
                  randomValue(next),
                ],
          ),
        ),
      );
    case 2: // any JSON at all
      return b64url(latin1(JSON.stringify(randomValue(next)) ?? "null"));
    case 3: // base64 garbage
      return garbage(1 + Math.floor(next() * 200));
    case 4: {
      // the real cursor with one character changed, added or removed
      const at = Math.floor(next() * real.length);
      const op = Math.floor(next() * 3);
      if (op === 0) return real.slice(0, at) + pick([...alphabet]) + real.slice(at + 1);
      if (op === 1) return real.slice(0, at) + pick([...alphabet]) + real.slice(at);
      return real.slice(0, at) + real.slice(at + 1) || "A";
    }
    default: // not even the cursor alphabet
      return pick([
        "%00",
        "a b",
        "a+b",
        "a/b",
        "====",
        "a".repeat(201),
        "%F0%9F%98%80",
        "%ED%A0%80",
      ]);
  }
}

interface Page {
  items: { id: string }[];
  nextCursor: string | null;
}

describe("crafted cursors", () => {
  it(`${CASES} cursors the service did not issue: each 400 invalid-request or a page, never a 5xx, and nothing changes`, async () => {
    const user = uniqueId("cursor-user");
    const headers = { ...(await asUser(user)), "CF-Connecting-IP": "198.51.100.21" };
    for (let i = 0; i < 3; i++) {
      const event = await createEvent({ totalStock: 2 });
      expect((await claim(event.id, user)).status).toBe(201);
      await drained(event.id);
    }
    const list = async (query = "") => {
      const res = await api(`/v1/me/coupons${query}`, { headers });
      return { res, page: res.status === 200 ? await res.clone().json<Page>() : null };
    };
    const first = await list("?limit=1");
    const real = first.page?.nextCursor;
    expect(real, "a real cursor").toBeTruthy();
    const before = (await list("?limit=100")).page;
    expect(before?.items).toHaveLength(3);

    const next = prng(SEED);
    const statuses = new Map<number, number>();
    for (let i = 0; i < CASES; i++) {
      const cursor = randomCursor(next, real as string);
      const query = cursor.includes("%") ? cursor : encodeURIComponent(cursor);
      const { res, page } = await list(`?limit=2&cursor=${query}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const why = `seed ${SEED} case ${i}: cursor ${JSON.stringify(cursor)}`;
      expect([200, 400], why).toContain(res.status);
      if (res.status === 400) {
        const problem = await problemOf(res);
        expect(problem.type, why).toBe("/problems/invalid-request");
        expect(problem.errors?.length, why).toBeGreaterThan(0);
      } else {
        // A valid page: only the caller's own coupons.
        for (const item of page?.items ?? []) {
          expect(
            before?.items.map((c) => c.id),
            why,
          ).toContain(item.id);
        }
      }
    }
    // The fuzz did reach the decoder's refusals, and the caller's coupons are as they were.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(CASES / 2);
    expect((await list("?limit=100")).page).toEqual(before);
    // The real cursor still works.
    const second = await list(`?limit=1&cursor=${real}`);
    expect(second.res.status).toBe(200);
    expect(second.page?.items[0]?.id).toBe(before?.items[1]?.id);
  });
});
