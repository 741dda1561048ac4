import { describe, expect, it } from "vitest";
import { DEFAULT_STATE, formatState, parseState } from "../src/lib/urlState";
import { clampConfidence, snapIou } from "../src/lib/thresholds";

describe("thresholds", () => {
  it("snaps IoU to the 0.05 grid within 0.05..0.95", () => {
    expect(snapIou(0.7500000000000001)).toBe(0.75);
    expect(snapIou(0.74)).toBe(0.75);
    expect(snapIou(0.01)).toBe(0.05);
    expect(snapIou(1.5)).toBe(0.95);
    expect(snapIou(Number.NaN)).toBe(0.5);
  });
  it("clamps confidence to 0..1", () => {
    expect(clampConfidence(-1)).toBe(0);
    expect(clampConfidence(0.123)).toBe(0.12);
    expect(clampConfidence(2)).toBe(1);
  });
});

describe("the URL keeps the page's state", () => {
  it("is empty for the defaults", () => {
    expect(formatState(DEFAULT_STATE)).toBe("");
    expect(parseState("")).toEqual(DEFAULT_STATE);
  });

  it("round-trips every field", () => {
    const state = {
      slice: "7",
      iou: 0.75,
      confidence: 0.3,
      label: "cat",
      builder: { conditions: [{ field: "camera.location", op: "EQ" as const, value: "north" }], labels: ["dog"] },
      cell: { gt: null, pred: "cat" },
      outcome: "tp" as const,
      order: "IOU_ASC" as const,
      after: "ZTE6NDc=",
    };
    expect(parseState(formatState(state))).toEqual(state);
  });

  it("ignores values it cannot read", () => {
    const state = parseState("?iou=abc&confidence=9&outcome=zz&order=NOPE&filter=%7Bbad&cell=%5B1%5D");
    expect(state).toEqual({ ...DEFAULT_STATE, confidence: 1 });
  });
});
