import { useState } from "preact/hooks";
import { pure } from "../lib/pure";
import type { Cell } from "../lib/urlState";

/** Past this many labels the matrix shows the labels with the most mistakes (a toggle shows
 * all): 80 labels are 6,561 cells, slow to read and to redraw on every slider step. */
export const SHOWN_LABELS = 25;

/** Label indices by mistakes (off-diagonal counts of their row and column), most first. */
export function mostConfused(counts: readonly (readonly number[])[], n: number, limit: number): number[] {
  const score = Array.from({ length: n }, (_, k) => {
    let total = 0;
    for (let j = 0; j <= n; j += 1) {
      if (j !== k) total += (counts[k]?.[j] ?? 0) + (counts[j]?.[k] ?? 0);
    }
    return total;
  });
  return Array.from({ length: n }, (_, k) => k)
    .sort((a, b) => score[b] - score[a] || a - b)
    .slice(0, limit)
    .sort((a, b) => a - b);
}

/** Rows are ground truth, columns predictions; the last row and column are background. Each
 * non-empty cell is a button that lists its objects. data-gt-label / data-pred-label are the
 * labels, "" for background. */
export const ConfusionMatrix = pure(function ConfusionMatrix({
  labels,
  counts,
  selectedKey,
  onSelect,
}: {
  labels: readonly string[];
  counts: readonly (readonly number[])[];
  /** JSON of the selected [gt, pred], or "" */
  selectedKey: string;
  onSelect: (cell: Cell) => void;
}) {
  const [all, setAll] = useState(false);
  const background = labels.length;
  const indices = all || labels.length <= SHOWN_LABELS ? labels.map((_, k) => k) : mostConfused(counts, labels.length, SHOWN_LABELS);
  const shown = [...indices, background];
  const names = shown.map((k) => (k === background ? null : labels[k]));
  let max = 1;
  for (const row of counts) for (const value of row) if (value > max) max = value;
  return (
    <div class="matrix-scroll" role="region" aria-label="Confusion matrix" tabIndex={0}>
      {labels.length > SHOWN_LABELS && (
        <button type="button" onClick={() => setAll(!all)}>
          {all ? `Show the ${SHOWN_LABELS} most confused labels` : `Show all ${labels.length} labels`}
        </button>
      )}
      <table data-testid="confusion-matrix" class="matrix">
        <caption>Confusion matrix: rows ground truth, columns prediction; background last</caption>
        <thead>
          <tr>
            <th scope="col">truth \ predicted</th>
            {names.map((name) => (
              <th scope="col" key={name ?? "background"}>{name ?? "background"}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {names.map((gt, r) => (
            <tr key={gt ?? "background"}>
              <th scope="row">{gt ?? "background"}</th>
              {names.map((pred, c) => {
                const value = counts[shown[r]]?.[shown[c]] ?? 0;
                const corner = gt === null && pred === null;
                const isSelected = selectedKey === JSON.stringify([gt, pred]);
                return (
                  <td key={pred ?? "background"} style={{ background: corner ? undefined : `rgba(37, 99, 235, ${(0.08 + 0.6 * (value / max)).toFixed(3)})` }}>
                    {corner ? (
                      "—"
                    ) : (
                      <button
                        type="button"
                        data-testid="confusion-cell"
                        data-gt-label={gt ?? ""}
                        data-pred-label={pred ?? ""}
                        aria-pressed={isSelected}
                        aria-label={`${value} with truth ${gt ?? "background"} predicted ${pred ?? "background"}`}
                        disabled={value === 0}
                        onClick={() => onSelect({ gt, pred })}
                      >
                        {value}
                      </button>
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
});
