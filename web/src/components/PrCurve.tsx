import { useMemo, useState } from "preact/hooks";
import { fixed } from "../lib/format";
import { nearestPoint, type CurvePoint } from "../lib/curve";
import { pure } from "../lib/pure";

const WIDTH = 360;
const HEIGHT = 260;
const PAD = 36;

/** Precision against recall as SVG; the point nearest the pointer (or the keyboard's choice)
 * shows its confidence, and the current confidence threshold is marked. */
export const PrCurve = pure(function PrCurve({ points, confidence, title }: { points: CurvePoint[]; confidence: number; title: string }) {
  const [hover, setHover] = useState<number | null>(null);
  const x = (recall: number) => PAD + recall * (WIDTH - PAD - 8);
  const y = (precision: number) => HEIGHT - PAD - precision * (HEIGHT - PAD - 8);
  const path = useMemo(() => points.map((p, k) => `${k ? "L" : "M"}${x(p.recall).toFixed(1)},${y(p.precision).toFixed(1)}`).join(""), [points]);
  // the operating point: the last point whose confidence is at least the threshold
  const operating = useMemo(() => {
    let found: CurvePoint | null = null;
    for (const p of points) if (p.confidence >= confidence) found = p;
    return found;
  }, [points, confidence]);
  const shown = hover === null ? null : points[hover];
  return (
    <figure data-testid="pr-curve" class="chart">
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        width={WIDTH}
        height={HEIGHT}
        role="img"
        aria-label={`Precision-recall curve, ${title}, ${points.length} points`}
        tabIndex={0}
        onMouseMove={(event) => {
          const box = (event.currentTarget as SVGSVGElement).getBoundingClientRect();
          const recall = ((event.clientX - box.left) * (WIDTH / box.width) - PAD) / (WIDTH - PAD - 8);
          setHover(nearestPoint(points, recall));
        }}
        onMouseLeave={() => setHover(null)}
        onKeyDown={(event) => {
          if (!points.length) return;
          if (event.key === "ArrowRight") setHover((h) => Math.min(points.length - 1, (h ?? -1) + 1));
          else if (event.key === "ArrowLeft") setHover((h) => Math.max(0, (h ?? points.length) - 1));
          else return;
          event.preventDefault();
        }}
      >
        <line x1={PAD} y1={HEIGHT - PAD} x2={WIDTH - 8} y2={HEIGHT - PAD} class="axis" />
        <line x1={PAD} y1={8} x2={PAD} y2={HEIGHT - PAD} class="axis" />
        {[0, 0.25, 0.5, 0.75, 1].map((t) => (
          <g key={t}>
            <text x={x(t)} y={HEIGHT - PAD + 14} text-anchor="middle" class="tick">{t}</text>
            <text x={PAD - 4} y={y(t) + 4} text-anchor="end" class="tick">{t}</text>
          </g>
        ))}
        <text x={(WIDTH + PAD) / 2} y={HEIGHT - 4} text-anchor="middle" class="tick">recall</text>
        <text x={10} y={HEIGHT / 2} transform={`rotate(-90 10 ${HEIGHT / 2})`} text-anchor="middle" class="tick">precision</text>
        <path d={path} class="curve" />
        {operating && <circle cx={x(operating.recall)} cy={y(operating.precision)} r={4} class="operating" />}
        {shown && <circle cx={x(shown.recall)} cy={y(shown.precision)} r={5} class="hover" />}
      </svg>
      <p class="hover-readout" data-testid="pr-hover" aria-live="polite">
        {shown
          ? `confidence ${fixed(shown.confidence)}: precision ${fixed(shown.precision)}, recall ${fixed(shown.recall)}`
          : points.length
            ? "Point at the curve (or focus it and use ← →) to read a confidence."
            : "No predictions in this selection."}
      </p>
    </figure>
  );
});
