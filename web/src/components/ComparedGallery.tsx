import { request } from "../api/client";
import { ComparedItemsQuery, ComparedObjectsQuery } from "../api/operations";
import type { TransitionKind } from "../gql/graphql";
import { KINDS, type TransitionKindName } from "../lib/compareState";
import type { GeometryValue } from "../lib/geometry";
import { useAsync } from "../lib/useAsync";
import { ErrorNote } from "./ErrorNote";
import { Example, type ExampleItem } from "./Example";

const KIND_TEXT: Record<TransitionKindName, string> = {
  FIXED: "Fixed",
  BROKEN: "Broken",
  STILL_MISSED: "Still missed",
  STILL_FOUND: "Still found",
  NEW_FALSE_POSITIVE: "New false positives",
  REMOVED_FALSE_POSITIVE: "Removed false positives",
};

/** Whose predictions an entry of this kind is drawn with: the run in which the object is
 * found or the false positive exists. */
export function drawnRun(kind: TransitionKindName): "baseline" | "candidate" {
  return kind === "BROKEN" || kind === "REMOVED_FALSE_POSITIVE" ? "baseline" : "candidate";
}

type Entry = { key: string; referenceId: string; focus: Set<string>; caption: string };
type Page = { total: number; hasNext: boolean; endCursor: string | null; entries: Entry[]; items: Map<string, ExampleItem> };

type Props = {
  runs: string[];
  baselineId: string;
  candidateId: string;
  datasetId: string;
  slice: string | null;
  iou: number;
  confidence: number;
  kind: TransitionKindName;
  label: string | null;
  after: string | null;
};

async function loadPage(props: Props, signal: AbortSignal): Promise<Page> {
  const data = await request(
    ComparedObjectsQuery,
    {
      runs: props.runs,
      baseline: props.baselineId,
      slice: props.slice,
      iou: props.iou,
      confidence: props.confidence,
      kind: props.kind as TransitionKind,
      label: props.label,
      after: props.after,
    },
    signal,
  );
  const candidate = data.compareRuns.candidates.find((c) => c.run.id === props.candidateId) ?? data.compareRuns.candidates[0];
  const connection = candidate.objects;
  const entries: Entry[] = connection.edges.map(({ node }, index) => {
    const match = drawnRun(props.kind) === "baseline" ? node.baselineMatch : node.candidateMatch;
    const focus = new Set<string>();
    if (node.groundTruth) focus.add(`truth:${node.groundTruth.id}`);
    if (node.prediction) focus.add(`prediction:${node.prediction.id}`);
    if (match) focus.add(`prediction:${match.id}`);
    return {
      key: `${index}:${node.groundTruth?.id ?? ""}:${node.prediction?.id ?? ""}`,
      referenceId: node.item?.referenceId ?? "",
      focus,
      caption: `${KIND_TEXT[props.kind].toLowerCase()} ${node.label}`,
    };
  });
  const ids = [...new Set(entries.map((e) => e.referenceId).filter(Boolean))];
  const items = new Map<string, ExampleItem>();
  if (ids.length) {
    const run = drawnRun(props.kind) === "baseline" ? props.baselineId : candidate.run.id;
    const geometries = await request(ComparedItemsQuery, { run, dataset: props.datasetId, ids }, signal);
    for (const { node } of geometries.dataset?.items.edges ?? []) {
      items.set(node.referenceId, {
        referenceId: node.referenceId,
        url: node.url ?? null,
        width: node.width ?? null,
        height: node.height ?? null,
        objects: [
          ...node.annotations.map((a) => ({ id: a.id, label: a.label, kind: "truth" as const, geometry: (a.geometry ?? null) as GeometryValue | null })),
          ...node.predictions
            .filter((p) => (p.confidence ?? 1) >= props.confidence)
            .map((p) => ({ id: p.id, label: p.label, kind: "prediction" as const, confidence: p.confidence, geometry: (p.geometry ?? null) as GeometryValue | null })),
        ],
      });
    }
  }
  return { total: connection.totalCount, hasNext: connection.pageInfo.hasNextPage, endCursor: connection.pageInfo.endCursor ?? null, entries, items };
}

/** The objects whose outcome changed (or did not) between the baseline and a candidate, 48 a
 * page, drawn like the run page's gallery: each item with the ground truth and the predictions
 * of the run named in the caption at or above the confidence threshold. */
export function ComparedGallery(
  props: Props & {
    candidates: { id: string; name: string }[];
    labels: readonly string[];
    onChange: (change: { kind?: TransitionKindName; candidate?: string; label?: string | null; after?: string | null }) => void;
    canGoBack: boolean;
    onPrevious: () => void;
    onNext: (after: string) => void;
  },
) {
  const page = useAsync(
    (signal) => loadPage(props, signal),
    [props.runs.join(","), props.baselineId, props.candidateId, props.slice, props.iou, props.confidence, props.kind, props.label, props.after],
  );
  const whose = drawnRun(props.kind) === "baseline" ? "the baseline's" : "the candidate's";
  return (
    <section class="card" aria-labelledby="objects-title">
      <h2 id="objects-title">Objects</h2>
      {props.candidates.length > 1 && (
        <label>
          Candidate{" "}
          <select value={props.candidateId} onChange={(e) => props.onChange({ candidate: e.currentTarget.value, after: null })}>
            {props.candidates.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <label>
        Label{" "}
        <select data-testid="objects-label" value={props.label ?? ""} onChange={(e) => props.onChange({ label: e.currentTarget.value || null, after: null })}>
          <option value="">All labels</option>
          {props.labels.map((label) => (
            <option key={label} value={label}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <div role="tablist" aria-label="Which objects" class="tabs">
        {KINDS.map((kind) => (
          <button
            key={kind}
            role="tab"
            type="button"
            aria-selected={props.kind === kind}
            data-testid={`objects-${kind.toLowerCase()}`}
            onClick={() => props.onChange({ kind, after: null })}
          >
            {KIND_TEXT[kind]}
          </button>
        ))}
      </div>
      {page.error && <ErrorNote error={page.error} />}
      {page.data && (
        <p aria-live="polite" data-testid="objects-total">
          {page.data.total} in all, drawn with {whose} predictions{page.loading ? " (updating…)" : ""}
        </p>
      )}
      <div class="gallery" data-testid="compared-gallery" aria-busy={page.loading}>
        {page.data?.entries.map((entry) => {
          const item = page.data!.items.get(entry.referenceId);
          return item ? <Example key={entry.key} item={item} focus={entry.focus} caption={entry.caption} /> : null;
        })}
      </div>
      <nav aria-label="Object pages" class="pager">
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
