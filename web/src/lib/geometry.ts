/** Geometries as SVG shapes: one shape per geometry (a keypoint set is one group, a mask one
 * image), in image pixel coordinates. Cuboids (3-D) and CATEGORY labels have no 2-D shape. */

export type Point = { x: number; y: number };
export type GeometryValue =
  | { __typename: "Box"; x: number; y: number; width: number; height: number; rotation: number }
  | { __typename: "Polygon"; vertices: Point[]; holes: Point[][] }
  | { __typename: "Polyline"; vertices: Point[] }
  | { __typename: "Keypoints"; points: { x: number; y: number; visibility: number }[]; skeleton?: number[][] | null }
  | { __typename: "Segmentation"; rle?: { counts: string; size: number[] } | null; polygons?: { vertices: Point[]; holes: Point[][] }[] | null }
  | { __typename: "Cuboid" };

export type Shape =
  | { kind: "polygon"; d: string }
  | { kind: "polyline"; points: string }
  | { kind: "keypoints"; points: Point[]; lines: [Point, Point][] }
  | { kind: "mask"; counts: string; height: number; width: number };

function ring(points: readonly Point[]): string {
  return points.length ? `M${points.map((p) => `${p.x},${p.y}`).join("L")}Z` : "";
}

/** The corners of a box rotated by `rotation` radians counter-clockwise about its centre
 * (y grows downwards in image coordinates, so counter-clockwise on screen). */
export function boxCorners(x: number, y: number, width: number, height: number, rotation: number): Point[] {
  const cx = x + width / 2;
  const cy = y + height / 2;
  const cos = Math.cos(rotation);
  const sin = Math.sin(rotation);
  return [
    [x, y],
    [x + width, y],
    [x + width, y + height],
    [x, y + height],
  ].map(([px, py]) => {
    const dx = px - cx;
    const dy = py - cy;
    return { x: cx + dx * cos + dy * sin, y: cy - dx * sin + dy * cos };
  });
}

export function shapeOf(geometry: GeometryValue | null | undefined): Shape | null {
  if (!geometry) return null;
  switch (geometry.__typename) {
    case "Box":
      return { kind: "polygon", d: ring(boxCorners(geometry.x, geometry.y, geometry.width, geometry.height, geometry.rotation)) };
    case "Polygon":
      return { kind: "polygon", d: [geometry.vertices, ...geometry.holes].map(ring).join("") };
    case "Polyline":
      return { kind: "polyline", points: geometry.vertices.map((p) => `${p.x},${p.y}`).join(" ") };
    case "Keypoints": {
      const points = geometry.points.filter((p) => p.visibility > 0);
      const lines: [Point, Point][] = [];
      for (const [a, b] of geometry.skeleton ?? []) {
        const pa = geometry.points[a];
        const pb = geometry.points[b];
        if (pa && pb && pa.visibility > 0 && pb.visibility > 0) lines.push([pa, pb]);
      }
      return { kind: "keypoints", points, lines };
    }
    case "Segmentation":
      if (geometry.rle) return { kind: "mask", counts: geometry.rle.counts, height: geometry.rle.size[0], width: geometry.rle.size[1] };
      if (geometry.polygons) {
        return { kind: "polygon", d: geometry.polygons.map((p) => [p.vertices, ...p.holes].map(ring).join("")).join("") };
      }
      return null;
    default:
      return null;
  }
}

/** Where an item's image comes from: http(s) URLs directly, anything else (a path or file://
 * URL) through the server's media route, which serves only files under its media root. */
export function imageSource(url: string | null | undefined): string | null {
  if (!url) return null;
  if (/^https?:\/\//i.test(url)) return url;
  return `/media?url=${encodeURIComponent(url)}`;
}
