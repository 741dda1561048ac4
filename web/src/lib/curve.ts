export type CurvePoint = { recall: number; precision: number; confidence: number };

/** The index of the point whose recall is nearest `recall` (points by descending confidence,
 * so recall does not decrease); null for no points. Binary search: curves have ~1,000 points. */
export function nearestPoint(points: readonly CurvePoint[], recall: number): number | null {
  if (points.length === 0) return null;
  let low = 0;
  let high = points.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (points[mid].recall < recall) low = mid + 1;
    else high = mid;
  }
  if (low > 0 && Math.abs(points[low - 1].recall - recall) <= Math.abs(points[low].recall - recall)) return low - 1;
  return low;
}
