import { describe, expect, it } from "vitest";
import { both, builderFilter, metadataPaths, parseValue, sliceFilter } from "../src/lib/filters";
import { microAverage } from "../src/lib/format";
import { sortRows } from "../src/lib/sort";
import { nearestPoint } from "../src/lib/curve";

describe("filter builder", () => {
  it("types values and splits lists", () => {
    expect(parseValue("3.5", false)).toBe(3.5);
    expect(parseValue("true", false)).toBe(true);
    expect(parseValue("north", false)).toBe("north");
    expect(parseValue("a, 2,", true)).toEqual(["a", 2]);
  });

  it("ANDs the conditions and labels", () => {
    expect(builderFilter({ conditions: [], labels: [] })).toBeNull();
    expect(builderFilter({ conditions: [{ field: "split", op: "EQ", value: "odd" }], labels: [] })).toEqual({
      metadata: { field: "split", op: "EQ", value: "odd" },
    });
    expect(builderFilter({ conditions: [{ field: "n", op: "EXISTS", value: "x" }], labels: ["cat"] })).toEqual({
      and: [{ metadata: { field: "n", op: "EXISTS", value: null } }, { hasAnnotationLabel: ["cat"] }],
    });
  });

  it("turns a slice into a filter", () => {
    expect(sliceFilter({ filter: { referenceIds: ["a"] }, referenceIds: null })).toEqual({ referenceIds: ["a"] });
    expect(sliceFilter({ filter: null, referenceIds: ["b"] })).toEqual({ referenceIds: ["b"] });
    expect(both(null, { referenceIds: ["b"] })).toEqual({ referenceIds: ["b"] });
  });

  it("collects dotted metadata paths", () => {
    expect(metadataPaths([{ camera: { location: "n" }, split: "odd" }, { split: "even", tags: ["a"] }, null])).toEqual([
      "camera.location",
      "split",
      "tags",
    ]);
  });
});

describe("numbers", () => {
  it("micro-averages counts", () => {
    const rows = [
      { truePositives: 3, falsePositives: 1, falseNegatives: 2 },
      { truePositives: 1, falsePositives: 3, falseNegatives: 0 },
    ];
    const overall = microAverage(rows);
    expect(overall.precision).toBeCloseTo(4 / 8);
    expect(overall.recall).toBeCloseTo(4 / 6);
    expect(overall.f1).toBeCloseTo((2 * 0.5 * (4 / 6)) / (0.5 + 4 / 6));
    expect(microAverage([])).toEqual({ tp: 0, fp: 0, fn: 0, precision: null, recall: null, f1: null });
  });

  it("sorts with nulls last both ways", () => {
    const rows = [{ v: 2 }, { v: null }, { v: 1 }];
    expect(sortRows(rows, "v", "asc").map((r) => r.v)).toEqual([1, 2, null]);
    expect(sortRows(rows, "v", "desc").map((r) => r.v)).toEqual([2, 1, null]);
  });

  it("finds the curve point nearest a recall", () => {
    const points = [0.1, 0.2, 0.4, 0.8].map((recall) => ({ recall, precision: 1, confidence: 1 - recall }));
    expect(nearestPoint(points, 0.31)).toBe(2);
    expect(nearestPoint(points, 0.29)).toBe(1);
    expect(nearestPoint(points, 5)).toBe(3);
    expect(nearestPoint([], 0.5)).toBeNull();
  });
});
