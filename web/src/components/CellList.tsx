import { useState } from "preact/hooks";
import { request } from "../api/client";
import { CellMissesQuery, CellPredictionsQuery } from "../api/operations";
import { fixed } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import type { Cell } from "../lib/urlState";
import type { ItemFilter } from "../gql/graphql";
import { ErrorNote } from "./ErrorNote";

type Entry = { id: string; annotationId: string; label: string; referenceId: string; confidence?: number | null; iou?: number | null };

/** Exactly the objects one confusion cell counts, from ModelRun.confusionPredictions (or
 * confusionMisses for the background column), 100 at a time. */
export function CellList({
  runId,
  cell,
  slice,
  filter,
  iou,
  confidence,
  onClose,
}: {
  runId: string;
  cell: Cell;
  slice: string | null;
  filter: ItemFilter | null;
  iou: number;
  confidence: number;
  onClose: () => void;
}) {
  const [after, setAfter] = useState<string | null>(null);
  const [entries, setEntries] = useState<Entry[]>([]);
  const key = JSON.stringify([runId, cell, slice, filter, iou, confidence]);
  const [shownKey, setShownKey] = useState(key);
  if (shownKey !== key) {
    setShownKey(key);
    setAfter(null);
  }
  const page = useAsync(
    async (signal) => {
      const common = { run: runId, slice, filter, iou, confidence, after };
      let rows: Entry[];
      let info: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor?: string | null } };
      if (cell.pred === null) {
        const data = await request(CellMissesQuery, { ...common, gt: cell.gt ?? "" }, signal);
        const connection = data.modelRun!.confusionMisses;
        rows = connection.edges.map(({ node }) => ({ id: node.id, annotationId: node.annotationId, label: node.label, referenceId: node.item.referenceId }));
        info = connection;
      } else {
        const data = await request(CellPredictionsQuery, { ...common, gt: cell.gt, pred: cell.pred }, signal);
        const connection = data.modelRun!.confusionPredictions;
        rows = connection.edges.map(({ node }) => ({
          id: node.id,
          annotationId: node.annotationId,
          label: node.label,
          referenceId: node.item.referenceId,
          confidence: node.confidence,
          iou: node.iou,
        }));
        info = connection;
      }
      setEntries((previous) => [...(after ? previous : []), ...rows]);
      return info;
    },
    [key, after],
  );
  const what = cell.pred === null ? "ground truth" : "predictions";
  return (
    <section class="card" aria-labelledby="cell-title" data-testid="cell-list">
      <h3 id="cell-title">
        {what} — truth {cell.gt ?? "background"}, predicted {cell.pred ?? "background"}
        {page.data && ` (${page.data.totalCount})`}
      </h3>
      <button type="button" onClick={onClose}>
        Close
      </button>
      {page.error && <ErrorNote error={page.error} />}
      <ol class="cell-entries" tabIndex={0} aria-label="Objects in this cell">
        {entries.map((entry) => (
          <li key={entry.id} data-testid="cell-entry" data-id={entry.id}>
            <code>{entry.referenceId}</code> / <code>{entry.annotationId}</code> {entry.label}
            {entry.confidence !== undefined && ` · confidence ${fixed(entry.confidence ?? null)}`}
            {entry.iou !== undefined && entry.iou !== null && ` · IoU ${fixed(entry.iou)}`}
          </li>
        ))}
      </ol>
      {page.data?.pageInfo.hasNextPage && (
        <button type="button" disabled={page.loading} onClick={() => setAfter(page.data?.pageInfo.endCursor ?? null)}>
          More
        </button>
      )}
    </section>
  );
}
