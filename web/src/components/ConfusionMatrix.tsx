import type { Cell } from "../lib/urlState";

/** Rows are ground truth, columns predictions; the last row and column are background. Each
 * non-empty cell is a button that lists its objects. data-gt-label / data-pred-label are the
 * labels, "" for background. */
export function ConfusionMatrix({
  labels,
  counts,
  selected,
  onSelect,
}: {
  labels: readonly string[];
  counts: readonly (readonly number[])[];
  selected: Cell | null;
  onSelect: (cell: Cell) => void;
}) {
  const names = [...labels, null];
  const max = Math.max(1, ...counts.flat());
  return (
    <div class="matrix-scroll" role="region" aria-label="Confusion matrix" tabIndex={0}>
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
          {names.map((gt, row) => (
            <tr key={gt ?? "background"}>
              <th scope="row">{gt ?? "background"}</th>
              {names.map((pred, column) => {
                const value = counts[row]?.[column] ?? 0;
                const corner = gt === null && pred === null;
                const isSelected = selected !== null && selected.gt === gt && selected.pred === pred;
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
}
