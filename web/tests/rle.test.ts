import { describe, expect, it } from "vitest";
import { decodeCounts, maskFromCounts } from "../src/lib/rle";

describe("COCO RLE", () => {
  // strings from pycocotools.mask.encode / frPyObjects (delta coding from the third count)
  it("decodes small counts with negative deltas", () => {
    // a 3x4 mask with ones at (1,1), (2,1), (0,3)
    expect(decodeCounts("423OO")).toEqual([4, 2, 3, 1, 2]);
  });

  it("decodes multi-character and delta-coded counts", () => {
    // np.ones((100, 100)) -> b"0`h9"
    expect(decodeCounts("0`h9")).toEqual([0, 10000]);
    // frPyObjects({counts: [5, 40, 5], size: [10, 5]}) -> b"5X15"
    expect(decodeCounts("5X15")).toEqual([5, 40, 5]);
  });

  it("fills a column-major mask row-major", () => {
    const mask = maskFromCounts([4, 2, 3, 1, 2], 3, 4);
    // column-major positions 4,5 -> (row 1, col 1), (row 2, col 1); position 9 -> (row 0, col 3)
    expect([...mask]).toEqual([0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0]);
  });

  it("refuses a truncated string", () => {
    expect(() => decodeCounts("P")).toThrow();
  });
});
