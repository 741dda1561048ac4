/** Numbers as the page shows them: four decimals (the test hooks need at least four). */
export function fixed(value: number | null | undefined, digits = 4): string {
  return value === null || value === undefined || Number.isNaN(value) ? "—" : value.toFixed(digits);
}

const COUNT = new Intl.NumberFormat("en-US"); // one formatter: toLocaleString builds one per call

export function count(value: number): string {
  return COUNT.format(value);
}

/** Micro-averaged precision, recall and F1 from summed counts (null where 0/0), the way the
 * server's engine averages labels: precision = TP/(TP+FP), recall = TP/(TP+FN). */
export function microAverage(rows: { truePositives: number; falsePositives: number; falseNegatives: number }[]): {
  tp: number;
  fp: number;
  fn: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
} {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const row of rows) {
    tp += row.truePositives;
    fp += row.falsePositives;
    fn += row.falseNegatives;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : null;
  const recall = tp + fn > 0 ? tp / (tp + fn) : null;
  const f1 =
    precision === null || recall === null ? null : precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { tp, fp, fn, precision, recall, f1 };
}
