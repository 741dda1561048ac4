/** The run page's state, kept in the URL so a view can be linked: slice, thresholds, label,
 * filter, the open confusion cell and the gallery's tab, order and page (the cursor after which it starts). */
import { clampConfidence, snapIou } from "./thresholds";
import { EMPTY_BUILDER, type Builder } from "./filters";

export type Outcome = "fp" | "fn" | "tp";
export type GalleryOrder = "CONFIDENCE_DESC" | "CONFIDENCE_ASC" | "IOU_DESC" | "IOU_ASC";
export type Cell = { gt: string | null; pred: string | null };

export type RunState = {
  slice: string | null;
  iou: number;
  confidence: number;
  label: string | null;
  builder: Builder;
  cell: Cell | null;
  outcome: Outcome;
  order: GalleryOrder;
  after: string | null;
};

export const DEFAULT_STATE: RunState = {
  slice: null,
  iou: 0.5,
  confidence: 0,
  label: null,
  builder: EMPTY_BUILDER,
  cell: null,
  outcome: "fp",
  order: "CONFIDENCE_DESC",
  after: null,
};

const ORDERS: GalleryOrder[] = ["CONFIDENCE_DESC", "CONFIDENCE_ASC", "IOU_DESC", "IOU_ASC"];
const BACKGROUND = "__background__";

export function parseState(search: string): RunState {
  const params = new URLSearchParams(search);
  const number = (name: string, fallback: number): number => {
    const raw = params.get(name);
    const value = raw === null ? NaN : Number(raw);
    return Number.isFinite(value) ? value : fallback;
  };
  let builder = EMPTY_BUILDER;
  const rawFilter = params.get("filter");
  if (rawFilter) {
    try {
      const parsed = JSON.parse(rawFilter) as Partial<Builder>;
      builder = {
        conditions: Array.isArray(parsed.conditions) ? parsed.conditions : [],
        labels: Array.isArray(parsed.labels) ? parsed.labels : [],
      };
    } catch {
      builder = EMPTY_BUILDER;
    }
  }
  const cellRaw = params.get("cell");
  let cell: Cell | null = null;
  if (cellRaw) {
    try {
      const [gt, pred] = JSON.parse(cellRaw) as [unknown, unknown];
      if (typeof gt === "string" && typeof pred === "string" && !(gt === BACKGROUND && pred === BACKGROUND)) {
        cell = { gt: gt === BACKGROUND ? null : gt, pred: pred === BACKGROUND ? null : pred };
      }
    } catch {
      cell = null;
    }
  }
  const outcome = params.get("outcome");
  const order = params.get("order") as GalleryOrder | null;
  return {
    slice: params.get("slice"),
    iou: snapIou(number("iou", DEFAULT_STATE.iou)),
    confidence: clampConfidence(number("confidence", DEFAULT_STATE.confidence)),
    label: params.get("label"),
    builder,
    cell,
    outcome: outcome === "fn" || outcome === "tp" ? outcome : "fp",
    order: order && ORDERS.includes(order) ? order : DEFAULT_STATE.order,
    after: params.get("after"),
  };
}

export function formatState(state: RunState): string {
  const params = new URLSearchParams();
  if (state.slice) params.set("slice", state.slice);
  if (state.iou !== DEFAULT_STATE.iou) params.set("iou", String(state.iou));
  if (state.confidence !== DEFAULT_STATE.confidence) params.set("confidence", String(state.confidence));
  if (state.label) params.set("label", state.label);
  if (state.builder.conditions.length || state.builder.labels.length) params.set("filter", JSON.stringify(state.builder));
  if (state.cell) params.set("cell", JSON.stringify([state.cell.gt ?? BACKGROUND, state.cell.pred ?? BACKGROUND]));
  if (state.outcome !== DEFAULT_STATE.outcome) params.set("outcome", state.outcome);
  if (state.order !== DEFAULT_STATE.order) params.set("order", state.order);
  if (state.after) params.set("after", state.after);
  const text = params.toString();
  return text ? `?${text}` : "";
}
