/** The comparison view's state, kept in the URL like the run page's: the runs compared with
 * the page's run, the baseline, thresholds, slice, the bootstrap's resamples and the object
 * list's kind, candidate and page. */
import { clampConfidence, snapIou } from "./thresholds";

export type TransitionKindName = "FIXED" | "BROKEN" | "STILL_MISSED" | "STILL_FOUND" | "NEW_FALSE_POSITIVE" | "REMOVED_FALSE_POSITIVE";
export const KINDS: TransitionKindName[] = ["FIXED", "BROKEN", "STILL_MISSED", "STILL_FOUND", "NEW_FALSE_POSITIVE", "REMOVED_FALSE_POSITIVE"];

/** The server compares 2 to 8 runs. */
export const MAX_RUNS = 8;
/** Few resamples by default: a bootstrap over a large run is slow; the user may raise it. */
export const DEFAULT_RESAMPLES = 200;
export const MIN_RESAMPLES = 1;
export const MAX_RESAMPLES = 2000; // the server's default SLICEBOARD_MAX_BOOTSTRAP_RESAMPLES

export type CompareState = {
  /** the other runs, in the order picked */
  others: string[];
  /** null: the page's run */
  baseline: string | null;
  slice: string | null;
  iou: number;
  confidence: number;
  resamples: number;
  kind: TransitionKindName;
  /** the candidate whose objects are listed (null: the first) */
  candidate: string | null;
  label: string | null;
  after: string | null;
};

export const DEFAULT_COMPARE: CompareState = {
  others: [],
  baseline: null,
  slice: null,
  iou: 0.5,
  confidence: 0,
  resamples: DEFAULT_RESAMPLES,
  kind: "FIXED",
  candidate: null,
  label: null,
  after: null,
};

export function clampResamples(value: number): number {
  if (!Number.isFinite(value)) return DEFAULT_RESAMPLES;
  return Math.min(MAX_RESAMPLES, Math.max(MIN_RESAMPLES, Math.round(value)));
}

export function parseCompareState(search: string, runId: string): CompareState {
  const params = new URLSearchParams(search);
  const number = (name: string, fallback: number): number => {
    const raw = params.get(name);
    const value = raw === null || raw === "" ? NaN : Number(raw);
    return Number.isFinite(value) ? value : fallback;
  };
  const others: string[] = [];
  for (const id of (params.get("with") ?? "").split(",")) {
    if (id && id !== runId && !others.includes(id) && others.length < MAX_RUNS - 1) others.push(id);
  }
  const baseline = params.get("baseline");
  const kind = params.get("kind") as TransitionKindName | null;
  const candidate = params.get("candidate");
  return {
    others,
    baseline: baseline && others.includes(baseline) ? baseline : null,
    slice: params.get("slice"),
    iou: snapIou(number("iou", DEFAULT_COMPARE.iou)),
    confidence: clampConfidence(number("confidence", DEFAULT_COMPARE.confidence)),
    resamples: clampResamples(number("resamples", DEFAULT_RESAMPLES)),
    kind: kind && KINDS.includes(kind) ? kind : "FIXED",
    candidate: candidate && (candidate === runId || others.includes(candidate)) ? candidate : null,
    label: params.get("label"),
    after: params.get("after"),
  };
}

export function formatCompareState(state: CompareState): string {
  const params = new URLSearchParams();
  if (state.others.length) params.set("with", state.others.join(","));
  if (state.baseline) params.set("baseline", state.baseline);
  if (state.slice) params.set("slice", state.slice);
  if (state.iou !== DEFAULT_COMPARE.iou) params.set("iou", String(state.iou));
  if (state.confidence !== DEFAULT_COMPARE.confidence) params.set("confidence", String(state.confidence));
  if (state.resamples !== DEFAULT_RESAMPLES) params.set("resamples", String(state.resamples));
  if (state.kind !== DEFAULT_COMPARE.kind) params.set("kind", state.kind);
  if (state.candidate) params.set("candidate", state.candidate);
  if (state.label) params.set("label", state.label);
  if (state.after) params.set("after", state.after);
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The ids compareRuns is asked for, baseline first (the server's default baseline), and the
 * baseline's id; null while fewer than two runs are chosen. */
export function comparedRuns(state: CompareState, runId: string): { runIds: string[]; baselineId: string } | null {
  if (!state.others.length) return null;
  const baselineId = state.baseline ?? runId;
  const runIds = [baselineId, ...[runId, ...state.others].filter((id) => id !== baselineId)];
  return { runIds, baselineId };
}

/** The other runs with `id` added (at the end) or removed; the baseline and candidate fall
 * back to the page's run when their run leaves. */
export function toggleRun(state: CompareState, id: string): CompareState {
  const others = state.others.includes(id) ? state.others.filter((o) => o !== id) : [...state.others, id].slice(0, MAX_RUNS - 1);
  return {
    ...state,
    others,
    baseline: state.baseline && others.includes(state.baseline) ? state.baseline : null,
    candidate: state.candidate && (others.includes(state.candidate) || !state.others.includes(state.candidate)) ? state.candidate : null,
    after: null,
  };
}

type DeltaValue = { baseline?: number | null; candidate?: number | null; delta?: number | null; low?: number | null; high?: number | null; pValue?: number | null };
export const METRICS = ["ap", "ap50", "ap75", "precision", "recall", "f1"] as const;
export type MetricName = (typeof METRICS)[number];
export type DeltaRow = { label: string } & Record<`${MetricName}Delta` | `${MetricName}P`, number | null> & { fixed: number; broken: number };

/** A label's deltas flattened into one sortable row: each metric's delta and p-value. */
export function deltaRow(label: string, deltas: Record<MetricName, DeltaValue>, transitions: { fixed: number; broken: number }): DeltaRow {
  const row = { label, fixed: transitions.fixed, broken: transitions.broken } as DeltaRow;
  for (const metric of METRICS) {
    row[`${metric}Delta`] = deltas[metric].delta ?? null;
    row[`${metric}P`] = deltas[metric].pValue ?? null;
  }
  return row;
}

/** A delta as "+0.0123 [−0.0040, +0.0301]", its interval when the bootstrap gave one. */
export function signed(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const text = Math.abs(value).toFixed(digits);
  return value > 0 && Number(text) !== 0 ? `+${text}` : value < 0 && Number(text) !== 0 ? `−${text}` : text;
}
