/**
 * The hot routes answer byte for byte what they answered before the hot path was stripped
 * (issue 20: precomputed headers, the coupon's JSON built in the object, batched claims). The
 * snapshot was recorded on the commit before those changes (532984c) with this same file; only
 * values that differ on every run (request ids, coupon ids, times, rate budgets left) are masked.
 */
import { describe, expect, it } from "vitest";
import { api, asUser, createEvent } from "./helpers.ts";

const VOLATILE: [RegExp, string][] = [
  [/cpn_[0-9A-Za-z]{22}/g, "cpn_<id>"],
  [/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>"],
  [/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uuid>"],
  [/evt-[0-9a-f-]{12}/g, "<event>"],
  [/;r=\d+;t=\d+/g, ";r=<n>;t=<n>"],
];

const mask = (text: string) => VOLATILE.reduce((t, [re, by]) => t.replace(re, by), text);

/** Status, every header (sorted by name, as the Headers object lists them) and the body. */
async function transcript(res: Response): Promise<string> {
  const headers = [...res.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
  return mask(`${res.status}\n${headers}\n\n${await res.text()}`);
}

describe("the hot routes' answers", () => {
  it("are byte-identical to the answers before the hot path was stripped", async () => {
    const event = await createEvent({ totalStock: 1, name: "Hot path" });
    const claims = `/v1/events/${event.id}/claims`;
    const alice = await asUser("hot-alice");
    const bob = await asUser("hot-bob");
    const answers: Record<string, string> = {};
    answers.issued = await transcript(await api(claims, { method: "POST", headers: alice }));
    answers.again = await transcript(await api(claims, { method: "POST", headers: alice }));
    answers.soldOut = await transcript(await api(claims, { method: "POST", headers: bob }));
    answers.mine = await transcript(await api(`${claims}/me`, { headers: alice }));
    answers.event = await transcript(await api(`/v1/events/${event.id}`));
    answers.unknownEvent = await transcript(await api("/v1/events/no-such-event-here"));
    answers.noToken = await transcript(await api(claims, { method: "POST" }));
    expect(answers).toMatchSnapshot();
  });
});
