import { describe, expect, it } from "vitest";
import { shapeSize } from "../../platform/sinks/mysql.ts";

describe("the MySQL sink's statement sizes", () => {
  it("fit every batch, pad by at most 15 rows, and stay few", () => {
    const sizes = new Set<number>();
    for (let n = 1; n <= 512; n++) {
      const size = shapeSize(n);
      expect(size).toBeGreaterThanOrEqual(n);
      expect(size - n).toBeLessThan(16);
      sizes.add(size);
    }
    // 16 exact sizes, then the multiples of 16 up to 512: what a drain ever compiles.
    expect(sizes.size).toBe(16 + 31);
  });
});
