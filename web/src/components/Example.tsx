import { useMemo } from "preact/hooks";
import { imageSource, shapeOf, type GeometryValue, type Shape } from "../lib/geometry";
import { decodeCounts, maskFromCounts } from "../lib/rle";
import { fixed } from "../lib/format";
import { pure } from "../lib/pure";

export type Drawn = { id: string; label: string; kind: "truth" | "prediction"; geometry: GeometryValue | null; confidence?: number | null };
/** The key the highlight set uses: truth and prediction ids come from different tables. */
export const objectKey = (object: Pick<Drawn, "kind" | "id">): string => `${object.kind}:${object.id}`;

export type ExampleItem = { referenceId: string; url: string | null; width: number | null; height: number | null; objects: Drawn[] };

function extent(objects: readonly Drawn[]): [number, number] {
  let width = 1;
  let height = 1;
  const grow = (x: number, y: number) => {
    width = Math.max(width, x);
    height = Math.max(height, y);
  };
  for (const object of objects) {
    const g = object.geometry;
    if (!g) continue;
    if (g.__typename === "Box") grow(g.x + g.width, g.y + g.height);
    else if (g.__typename === "Polygon" || g.__typename === "Polyline") g.vertices.forEach((p) => grow(p.x, p.y));
    else if (g.__typename === "Keypoints") g.points.forEach((p) => grow(p.x, p.y));
    else if (g.__typename === "Segmentation" && g.rle) grow(g.rle.size[1], g.rle.size[0]);
  }
  return [width, height];
}

function MaskImage({ shape, className }: { shape: Extract<Shape, { kind: "mask" }>; className: string }) {
  const href = useMemo(() => {
    const canvas = document.createElement("canvas");
    canvas.width = shape.width;
    canvas.height = shape.height;
    const context = canvas.getContext("2d");
    if (!context || shape.width * shape.height === 0) return "";
    const mask = maskFromCounts(decodeCounts(shape.counts), shape.height, shape.width);
    const image = context.createImageData(shape.width, shape.height);
    const [r, g, b] = className.includes("truth") ? [22, 163, 74] : [234, 88, 12];
    for (let k = 0; k < mask.length; k += 1) {
      if (!mask[k]) continue;
      image.data.set([r, g, b, 110], k * 4);
    }
    context.putImageData(image, 0, 0);
    return canvas.toDataURL();
  }, [shape.counts, shape.width, shape.height, className]);
  return <image data-shape="mask" class={className} href={href} x={0} y={0} width={shape.width} height={shape.height} />;
}

function ShapeOf({ object, highlighted }: { object: Drawn; highlighted: boolean }) {
  const shape = shapeOf(object.geometry);
  if (!shape) return null;
  const className = `${object.kind}${highlighted ? " highlighted" : ""}`;
  const common = { "data-shape": shape.kind, "data-object-id": object.id, "data-kind": object.kind, class: className };
  const title = <title>{`${object.kind} ${object.label}${object.confidence != null ? ` ${fixed(object.confidence, 3)}` : ""}`}</title>;
  switch (shape.kind) {
    case "polygon":
      return <path {...common} d={shape.d} fill-rule="evenodd">{title}</path>;
    case "polyline":
      return <polyline {...common} points={shape.points}>{title}</polyline>;
    case "keypoints":
      return (
        <g {...common}>
          {title}
          {shape.lines.map(([a, b], k) => (
            <line key={k} x1={a.x} y1={a.y} x2={b.x} y2={b.y} />
          ))}
          {shape.points.map((p, k) => (
            <circle key={k} cx={p.x} cy={p.y} r={3} />
          ))}
        </g>
      );
    case "mask":
      return <MaskImage shape={shape} className={className} />;
  }
}

/** One gallery entry (pure: the page re-renders on every slider step, the examples only
 * when their page changes): the item's image with every ground truth and prediction drawn (truth
 * green, prediction orange), the entry's object and its matched partner highlighted. */
export const Example = pure(function Example({ item, focus, caption }: { item: ExampleItem; focus: Set<string>; caption: string }) {
  const [fallbackWidth, fallbackHeight] = extent(item.objects);
  const width = item.width ?? fallbackWidth;
  const height = item.height ?? fallbackHeight;
  const src = imageSource(item.url);
  const ordered = [...item.objects].sort((a, b) => Number(focus.has(objectKey(a))) - Number(focus.has(objectKey(b))));
  return (
    <figure data-testid="example" data-reference-id={item.referenceId} class="example">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${item.referenceId}: ${caption}`} preserveAspectRatio="xMidYMid meet">
        <rect x={0} y={0} width={width} height={height} class="canvas" />
        {src && <image href={src} x={0} y={0} width={width} height={height} preserveAspectRatio="none" />}
        {ordered.map((object) => (
          <ShapeOf key={`${object.kind}${object.id}`} object={object} highlighted={focus.has(objectKey(object))} />
        ))}
      </svg>
      <figcaption>
        <code>{item.referenceId}</code> {caption}
      </figcaption>
    </figure>
  );
});
