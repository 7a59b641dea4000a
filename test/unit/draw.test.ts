import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  drawOrder,
  drawTable,
  drawValue,
  newSeed,
  placeInTable,
  seedCommitment,
} from "../../domain/draw.ts";
import { hmacSha256, sha256, toHex } from "../../domain/sha256.ts";

const utf8 = new TextEncoder();

/** The few lines docs/waiting-room.md gives users, with nothing of the service's code. */
function placeByHand(seed: string, me: string, others: string[]): number {
  const value = (id: string) =>
    createHmac("sha256", Buffer.from(seed, "hex")).update(id).digest("hex");
  const mine = value(me);
  return 1 + others.filter((id) => value(id) < mine).length;
}

describe("the draw", () => {
  it("SHA-256 and HMAC-SHA256 match node:crypto, across block boundaries and UTF-8", () => {
    for (const text of [
      "",
      "abc",
      "a".repeat(55),
      "b".repeat(56),
      "c".repeat(64),
      "쿠폰-사용자-✓",
      "x".repeat(1000),
    ]) {
      expect(toHex(sha256(utf8.encode(text)))).toBe(
        createHash("sha256").update(text).digest("hex"),
      );
      const key = Buffer.from(newSeed(), "hex");
      expect(toHex(hmacSha256(key, utf8.encode(text)))).toBe(
        createHmac("sha256", key).update(text).digest("hex"),
      );
    }
  });

  it("the commitment is the SHA-256 of the seed's bytes", () => {
    const seed = newSeed();
    expect(seed).toMatch(/^[0-9a-f]{64}$/);
    expect(seedCommitment(seed)).toBe(
      createHash("sha256").update(Buffer.from(seed, "hex")).digest("hex"),
    );
  });

  it("places are a permutation of the joiners, recomputed independently from the seed", () => {
    const seed = newSeed();
    const joiners = Array.from({ length: 500 }, (_, i) => `user-${i}`);
    const order = drawOrder(seed, joiners);
    expect([...order].sort()).toEqual([...joiners].sort());
    order.forEach((userId, i) => {
      expect(
        placeByHand(
          seed,
          userId,
          joiners.filter((u) => u !== userId),
        ),
      ).toBe(i + 1);
    });
  });

  it("is the same whatever order the joins arrived in, and differs with another seed", () => {
    const seed = newSeed();
    const joiners = Array.from({ length: 200 }, (_, i) => `u${i}`);
    const reversed = [...joiners].reverse();
    expect(drawOrder(seed, reversed)).toEqual(drawOrder(seed, joiners));
    expect(drawOrder(newSeed(), joiners)).not.toEqual(drawOrder(seed, joiners));
  });

  it("the edge's table gives every joiner the object's place", () => {
    const seed = newSeed();
    const joiners = Array.from({ length: 1000 }, (_, i) => `t${i}`);
    const order = drawOrder(seed, joiners);
    const table = drawTable(seed, order);
    order.forEach((userId, i) => {
      expect(placeInTable(table, drawValue(seed, userId).slice(0, 16))).toEqual({
        place: i + 1,
        unique: true,
      });
    });
    expect(placeInTable(table, drawValue(seed, "not-a-joiner").slice(0, 16))).toBeNull();
  });
});
