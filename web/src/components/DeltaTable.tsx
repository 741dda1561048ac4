import { useState } from "preact/hooks";
import { type DeltaRow, type MetricName, METRICS, signed } from "../lib/compareState";
import { fixed } from "../lib/format";
import { sortRows, type SortDirection } from "../lib/sort";

type DeltaValue = { baseline?: number | null; candidate?: number | null; delta?: number | null; low?: number | null; high?: number | null; pValue?: number | null };
export type LabelDeltas = { row: DeltaRow; deltas: Record<MetricName, DeltaValue> };

const NAMES: Record<MetricName, string> = { ap: "AP", ap50: "AP50", ap75: "AP75", precision: "Precision", recall: "Recall", f1: "F1" };

/** One delta: candidate − baseline, its interval and p-value. */
export function DeltaCell({ value, testid }: { value: DeltaValue; testid?: string }) {
  const significant = value.pValue != null && value.pValue < 0.05;
  return (
    <td class={significant ? ((value.delta ?? 0) > 0 ? "better" : "worse") : undefined} title={`${fixed(value.baseline)} → ${fixed(value.candidate)}`}>
      <span data-testid={testid}>{signed(value.delta)}</span>
      {value.low != null && value.high != null && (
        <small class="interval">
          {" "}[{signed(value.low)}, {signed(value.high)}]
        </small>
      )}
      {value.pValue != null && <small class="p-value"> p={fixed(value.pValue, 3)}</small>}
    </td>
  );
}

type SortKey = keyof DeltaRow;

/** Per-label deltas; a header button sorts by its column's delta (again: the other direction),
 * the p-value buttons by significance. */
export function DeltaTable({ rows }: { rows: readonly LabelDeltas[] }) {
  const [sort, setSort] = useState<{ key: SortKey; direction: SortDirection }>({ key: "apDelta", direction: "asc" });
  const byKey = sortRows(
    rows.map((r) => r.row),
    sort.key,
    sort.direction,
  );
  const deltas = new Map(rows.map((r) => [r.row.label, r.deltas]));
  const header = (key: SortKey, text: string) => (
    <th scope="col" key={key} aria-sort={sort.key === key ? (sort.direction === "asc" ? "ascending" : "descending") : "none"}>
      <button
        type="button"
        data-testid={`sort-${key}`}
        onClick={() =>
          setSort((s) => ({ key, direction: s.key === key && s.direction === "asc" ? "desc" : "asc" }))
        }
      >
        {text}
      </button>
    </th>
  );
  return (
    <div class="table-scroll" role="region" aria-label="Deltas per label" tabIndex={0}>
      <table data-testid="delta-table">
        <caption>Per label (candidate − baseline), largest AP loss first; a header sorts by its column, again for the other direction</caption>
        <thead>
          <tr>
            {header("label", "Label")}
            {METRICS.map((m) => header(`${m}Delta`, `Δ ${NAMES[m]}`))}
            {header("apP", "p (AP)")}
            {header("fixed", "Fixed")}
            {header("broken", "Broken")}
          </tr>
        </thead>
        <tbody>
          {byKey.map((row) => {
            const values = deltas.get(row.label)!;
            return (
              <tr key={row.label} data-testid="delta-row" data-label={row.label}>
                <th scope="row">{row.label}</th>
                {METRICS.map((m) => (
                  <DeltaCell key={m} value={values[m]} />
                ))}
                <td>{fixed(row.apP, 3)}</td>
                <td>{row.fixed}</td>
                <td>{row.broken}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export const METRIC_NAMES = NAMES;
