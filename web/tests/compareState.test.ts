import { describe, expect, it } from "vitest";
import {
  clampResamples,
  comparedRuns,
  DEFAULT_COMPARE,
  DEFAULT_RESAMPLES,
  deltaRow,
  formatCompareState,
  MAX_RESAMPLES,
  MAX_RUNS,
  parseCompareState,
  signed,
  toggleRun,
} from "../src/lib/compareState";
import { drawnRun } from "../src/components/ComparedGallery";

describe("comparison state in the URL", () => {
  it("round-trips every field", () => {
    const state = {
      ...DEFAULT_COMPARE,
      others: ["7", "9"],
      baseline: "9",
      slice: "3",
      iou: 0.75,
      confidence: 0.3,
      resamples: 500,
      kind: "BROKEN" as const,
      candidate: "7",
      label: "cat",
      after: "abc",
    };
    expect(parseCompareState(formatCompareState(state), "1")).toEqual(state);
  });
  it("leaves defaults out of the URL", () => {
    expect(formatCompareState(DEFAULT_COMPARE)).toBe("");
    expect(parseCompareState("", "1")).toEqual(DEFAULT_COMPARE);
  });
  it("drops the page's own run, repeats, unknown kinds and a baseline not compared", () => {
    const state = parseCompareState("?with=1,2,2,3&baseline=5&kind=NOPE&candidate=8&iou=0.74&resamples=x", "1");
    expect(state.others).toEqual(["2", "3"]);
    expect(state.baseline).toBeNull();
    expect(state.kind).toBe("FIXED");
    expect(state.candidate).toBeNull();
    expect(state.iou).toBe(0.75);
    expect(state.resamples).toBe(DEFAULT_RESAMPLES);
  });
  it("keeps at most MAX_RUNS runs in all", () => {
    const ids = Array.from({ length: 12 }, (_, k) => String(k + 2));
    expect(parseCompareState(`?with=${ids.join(",")}`, "1").others).toHaveLength(MAX_RUNS - 1);
  });
  it("clamps resamples to what the server accepts by default", () => {
    expect(clampResamples(0)).toBe(1);
    expect(clampResamples(1e9)).toBe(MAX_RESAMPLES);
    expect(clampResamples(250.4)).toBe(250);
  });
});

describe("the runs compareRuns is asked for", () => {
  it("needs a second run", () => {
    expect(comparedRuns(DEFAULT_COMPARE, "1")).toBeNull();
  });
  it("puts the baseline first, the page's run by default", () => {
    expect(comparedRuns({ ...DEFAULT_COMPARE, others: ["2", "3"] }, "1")).toEqual({ runIds: ["1", "2", "3"], baselineId: "1" });
    expect(comparedRuns({ ...DEFAULT_COMPARE, others: ["2", "3"], baseline: "3" }, "1")).toEqual({ runIds: ["3", "1", "2"], baselineId: "3" });
  });
  it("falls back to the page's run when the baseline or candidate is unticked", () => {
    const state = { ...DEFAULT_COMPARE, others: ["2", "3"], baseline: "3", candidate: "3", after: "x" };
    const next = toggleRun(state, "3");
    expect(next.others).toEqual(["2"]);
    expect(next.baseline).toBeNull();
    expect(next.candidate).toBeNull();
    expect(next.after).toBeNull();
    expect(toggleRun(next, "4").others).toEqual(["2", "4"]);
  });
});

describe("delta rows", () => {
  const delta = (value: number | null, p: number | null) => ({ baseline: 0, candidate: value, delta: value, low: null, high: null, pValue: p });
  it("flattens each metric's delta and p-value", () => {
    const row = deltaRow(
      "cat",
      { ap: delta(0.1, 0.02), ap50: delta(0.2, null), ap75: delta(null, null), precision: delta(-0.1, 0.5), recall: delta(0, 1), f1: delta(0.05, 0.3) },
      { fixed: 4, broken: 1 },
    );
    expect(row).toMatchObject({ label: "cat", apDelta: 0.1, apP: 0.02, ap50Delta: 0.2, ap75Delta: null, precisionDelta: -0.1, fixed: 4, broken: 1 });
  });
  it("signs deltas, with no sign on a zero", () => {
    expect(signed(0.01234)).toBe("+0.0123");
    expect(signed(-0.5)).toBe("−0.5000");
    expect(signed(0)).toBe("0.0000");
    expect(signed(-0.00001)).toBe("0.0000");
    expect(signed(null)).toBe("—");
  });
  it("draws found-in-baseline kinds with the baseline's predictions", () => {
    expect(drawnRun("BROKEN")).toBe("baseline");
    expect(drawnRun("REMOVED_FALSE_POSITIVE")).toBe("baseline");
    expect(drawnRun("FIXED")).toBe("candidate");
    expect(drawnRun("NEW_FALSE_POSITIVE")).toBe("candidate");
  });
});
