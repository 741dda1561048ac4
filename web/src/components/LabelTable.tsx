import { useState } from "preact/hooks";
import type { ThresholdQuery } from "../gql/graphql";
import { count, fixed } from "../lib/format";
import { pure } from "../lib/pure";
import { sortRows, type SortDirection } from "../lib/sort";

type Row = NonNullable<ThresholdQuery["modelRun"]>["metrics"]["perLabel"][number];
const COLUMNS: { key: keyof Row; text: string; number: boolean }[] = [
  { key: "label", text: "Label", number: false },
  { key: "ap", text: "AP", number: true },
  { key: "ap50", text: "AP50", number: true },
  { key: "ar", text: "AR", number: true },
  { key: "precision", text: "Precision", number: true },
  { key: "recall", text: "Recall", number: true },
  { key: "f1", text: "F1", number: true },
  { key: "truePositives", text: "TP", number: true },
  { key: "falsePositives", text: "FP", number: true },
  { key: "falseNegatives", text: "FN", number: true },
];

/** Per-label metrics; a header button sorts by its column (again: the other direction).
 * AP/AP50/AR are COCO's (all IoUs); precision, recall, F1 and counts are at the thresholds. */
export const LabelTable = pure(function LabelTable({ rows, onPick }: { rows: readonly Row[]; onPick: (label: string) => void }) {
  const [sort, setSort] = useState<{ key: keyof Row; direction: SortDirection }>({ key: "label", direction: "asc" });
  const sorted = sortRows(rows, sort.key, sort.direction);
  return (
    <div class="table-scroll" role="region" aria-label="Per-label metrics" tabIndex={0}>
      <table data-testid="label-table">
        <caption>Per label</caption>
        <thead>
          <tr>
            {COLUMNS.map((column) => (
              <th
                scope="col"
                key={column.key}
                aria-sort={sort.key === column.key ? (sort.direction === "asc" ? "ascending" : "descending") : "none"}
              >
                <button
                  type="button"
                  onClick={() =>
                    setSort((s) => ({ key: column.key, direction: s.key === column.key && s.direction === (column.number ? "desc" : "asc") ? (column.number ? "asc" : "desc") : column.number ? "desc" : "asc" }))
                  }
                >
                  {column.text}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sorted.map((row) => (
            <tr key={row.label} data-testid="label-row" data-label={row.label}>
              <th scope="row">
                <button type="button" class="link" onClick={() => onPick(row.label)}>
                  {row.label}
                </button>
              </th>
              <td>{fixed(row.ap)}</td>
              <td>{fixed(row.ap50)}</td>
              <td>{fixed(row.ar)}</td>
              <td>{fixed(row.precision)}</td>
              <td>{fixed(row.recall)}</td>
              <td>{fixed(row.f1)}</td>
              <td>{count(row.truePositives)}</td>
              <td>{count(row.falsePositives)}</td>
              <td>{count(row.falseNegatives)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
});
