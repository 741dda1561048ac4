import { describe, expect, it } from "vitest";
import { boxCorners, imageSource, shapeOf } from "../src/lib/geometry";

describe("shapes", () => {
  it("draws an unrotated box as its four corners", () => {
    expect(shapeOf({ __typename: "Box", x: 1, y: 2, width: 3, height: 4, rotation: 0 })).toEqual({ kind: "polygon", d: "M1,2L4,2L4,6L1,6Z" });
  });

  it("rotates a box counter-clockwise about its centre", () => {
    const corners = boxCorners(0, 0, 2, 2, Math.PI / 2);
    // a quarter turn counter-clockwise on screen (y down) takes the top-left corner to the bottom-left
    expect(corners[0].x).toBeCloseTo(0);
    expect(corners[0].y).toBeCloseTo(2);
  });

  it("draws a polygon with its holes in one path (even-odd)", () => {
    const shape = shapeOf({
      __typename: "Polygon",
      vertices: [{ x: 0, y: 0 }, { x: 4, y: 0 }, { x: 4, y: 4 }],
      holes: [[{ x: 1, y: 1 }, { x: 2, y: 1 }, { x: 2, y: 2 }]],
    });
    expect(shape).toEqual({ kind: "polygon", d: "M0,0L4,0L4,4ZM1,1L2,1L2,2Z" });
  });

  it("keeps visible keypoints and the skeleton lines between them", () => {
    const shape = shapeOf({
      __typename: "Keypoints",
      points: [{ x: 1, y: 1, visibility: 2 }, { x: 2, y: 2, visibility: 0 }, { x: 3, y: 3, visibility: 1 }],
      skeleton: [[0, 1], [0, 2]],
    });
    expect(shape).toEqual({ kind: "keypoints", points: [{ x: 1, y: 1, visibility: 2 }, { x: 3, y: 3, visibility: 1 }], lines: [[{ x: 1, y: 1, visibility: 2 }, { x: 3, y: 3, visibility: 1 }]] });
  });

  it("draws a mask as one image and a cuboid not at all", () => {
    expect(shapeOf({ __typename: "Segmentation", rle: { counts: "0`h9", size: [100, 100] } })).toEqual({ kind: "mask", counts: "0`h9", height: 100, width: 100 });
    expect(shapeOf({ __typename: "Cuboid" })).toBeNull();
    expect(shapeOf(null)).toBeNull();
  });

  it("loads http(s) images directly and anything else through the media route", () => {
    expect(imageSource("https://x.test/a.jpg")).toBe("https://x.test/a.jpg");
    expect(imageSource("images/a b.jpg")).toBe("/media?url=images%2Fa%20b.jpg");
    expect(imageSource("file:///data/a.jpg")).toBe("/media?url=file%3A%2F%2F%2Fdata%2Fa.jpg");
    expect(imageSource(null)).toBeNull();
  });
});
