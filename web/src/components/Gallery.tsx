import { request } from "../api/client";
import { FalseNegativesQuery, FalsePositivesQuery, ItemGeometriesQuery } from "../api/operations";
import type { ItemFilter } from "../gql/graphql";
import { fixed } from "../lib/format";
import type { GeometryValue } from "../lib/geometry";
import { useAsync } from "../lib/useAsync";
import type { GalleryOrder, Outcome } from "../lib/urlState";
import { ErrorNote } from "./ErrorNote";
import { Example, type ExampleItem } from "./Example";

type Entry = { key: string; referenceId: string; focus: Set<string>; caption: string };
type Page = { total: number; hasNext: boolean; endCursor: string | null; entries: Entry[]; items: Map<string, ExampleItem> };

const TABS: { value: Outcome; text: string }[] = [
  { value: "fp", text: "False positives" },
  { value: "fn", text: "False negatives" },
  { value: "tp", text: "True positives" },
];

async function loadPage(
  props: { runId: string; datasetId: string; filter: ItemFilter | null; iou: number; confidence: number; label: string | null; outcome: Outcome; order: GalleryOrder; after: string | null },
  signal: AbortSignal,
): Promise<Page> {
  const { runId, filter, iou, confidence, label, outcome, order, after } = props;
  let entries: Entry[];
  let connection: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor?: string | null } };
  if (outcome === "fn") {
    const data = await request(FalseNegativesQuery, { run: runId, filter, iou, labels: label ? [label] : null, after }, signal);
    connection = data.modelRun!.falseNegatives;
    entries = data.modelRun!.falseNegatives.edges.map(({ node }) => ({
      key: `t${node.id}`,
      referenceId: node.item.referenceId,
      focus: new Set([`truth:${node.id}`]),
      caption: `missed ${node.label}`,
    }));
  } else {
    const data = await request(
      FalsePositivesQuery,
      {
        run: runId,
        iou,
        order,
        after,
        filter: {
          outcome: outcome === "tp" ? "TRUE_POSITIVE" : "FALSE_POSITIVE",
          labels: label ? [label] : null,
          confidenceRange: { min: confidence },
          items: filter,
        },
      },
      signal,
    );
    connection = data.modelRun!.predictions;
    entries = data.modelRun!.predictions.edges.map(({ node }) => ({
      key: `p${node.id}`,
      referenceId: node.item.referenceId,
      focus: new Set([`prediction:${node.id}`, ...(node.matchedAnnotation ? [`truth:${node.matchedAnnotation.id}`] : [])]),
      caption: `${node.label} ${fixed(node.confidence ?? null, 3)}${node.iou != null ? ` · IoU ${fixed(node.iou, 3)}` : ""}`,
    }));
  }
  const ids = [...new Set(entries.map((e) => e.referenceId))];
  const items = new Map<string, ExampleItem>();
  if (ids.length) {
    const data = await request(ItemGeometriesQuery, { run: runId, dataset: props.datasetId, ids }, signal);
    for (const { node } of data.dataset?.items.edges ?? []) {
      items.set(node.referenceId, {
        referenceId: node.referenceId,
        url: node.url ?? null,
        width: node.width ?? null,
        height: node.height ?? null,
        objects: [
          ...node.annotations.map((a) => ({ id: a.id, label: a.label, kind: "truth" as const, geometry: (a.geometry ?? null) as GeometryValue | null })),
          ...node.predictions
            .filter((p) => (p.confidence ?? 1) >= confidence)
            .map((p) => ({ id: p.id, label: p.label, kind: "prediction" as const, confidence: p.confidence, geometry: (p.geometry ?? null) as GeometryValue | null })),
        ],
      });
    }
  }
  return { total: connection.totalCount, hasNext: connection.pageInfo.hasNextPage, endCursor: connection.pageInfo.endCursor ?? null, entries, items };
}

/** Mistakes and successes, 48 a page: false positives and true positives (predictions at or
 * above the confidence threshold), false negatives; predictions below the threshold are not
 * drawn. */
export function Gallery({
  ready,
  view,
  ...rest
}: {
  /** false while the numbers load or a slider moves: the gallery's requests wait */
  ready: boolean;
  /** JSON of [filter, iou, confidence, label]: one value, so it can be debounced whole */
  view: string;
  runId: string;
  datasetId: string;
  outcome: Outcome;
  order: GalleryOrder;
  after: string | null;
  onChange: (change: { outcome?: Outcome; order?: GalleryOrder; after?: string | null }) => void;
  canGoBack: boolean;
  onPrevious: () => void;
  onNext: (after: string) => void;
}) {
  const [filter, iou, confidence, label] = JSON.parse(view) as [ItemFilter | null, number, number, string | null];
  const props = { ...rest, filter, iou, confidence, label };
  const { outcome, order, onChange } = props;
  const page = useAsync((signal) => loadPage(props, signal), [props.runId, view, outcome, order, props.after], ready);
  return (
    <section class="card" aria-labelledby="gallery-title">
      <h2 id="gallery-title">Examples</h2>
      <div role="tablist" aria-label="Which examples" class="tabs">
        {TABS.map((tab) => (
          <button
            key={tab.value}
            role="tab"
            type="button"
            aria-selected={outcome === tab.value}
            data-testid={`gallery-${tab.value}`}
            onClick={() => onChange({ outcome: tab.value, after: null })}
          >
            {tab.text}
          </button>
        ))}
      </div>
      {outcome !== "fn" && (
        <label>
          Order{" "}
          <select value={order} onChange={(e) => onChange({ order: e.currentTarget.value as GalleryOrder, after: null })}>
            <option value="CONFIDENCE_DESC">confidence, high first</option>
            <option value="CONFIDENCE_ASC">confidence, low first</option>
            <option value="IOU_DESC">IoU, high first</option>
            <option value="IOU_ASC">IoU, low first</option>
          </select>
        </label>
      )}
      {page.error && <ErrorNote error={page.error} />}
      {page.data && (
        <p aria-live="polite">
          {page.data.total} in all{page.loading ? " (updating…)" : ""}
        </p>
      )}
      <div class="gallery" data-testid="gallery" aria-busy={page.loading || !ready}>
        {page.data?.entries.map((entry) => {
          const item = page.data!.items.get(entry.referenceId);
          return item ? <Example key={entry.key} item={item} focus={entry.focus} caption={entry.caption} /> : null;
        })}
      </div>
      <nav aria-label="Example pages" class="pager">
        <button type="button" disabled={!props.canGoBack} onClick={props.onPrevious}>
          Previous page
        </button>
        <button type="button" disabled={!page.data?.hasNext} onClick={() => page.data?.endCursor && props.onNext(page.data.endCursor)}>
          Next page
        </button>
      </nav>
    </section>
  );
}
