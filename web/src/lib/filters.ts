/** The filter builder's conditions as a GraphQL ItemFilter, and a saved slice as one (the
 * browse fields take a filter, not a slice id). */
import type { FilterOp, ItemFilter } from "../gql/graphql";

export const OPERATORS: { op: FilterOp; text: string; needsValue: boolean; list: boolean }[] = [
  { op: "EQ", text: "=", needsValue: true, list: false },
  { op: "NE", text: "≠", needsValue: true, list: false },
  { op: "GT", text: ">", needsValue: true, list: false },
  { op: "GTE", text: "≥", needsValue: true, list: false },
  { op: "LT", text: "<", needsValue: true, list: false },
  { op: "LTE", text: "≤", needsValue: true, list: false },
  { op: "IN", text: "in", needsValue: true, list: true },
  { op: "NOT_IN", text: "not in", needsValue: true, list: true },
  { op: "CONTAINS", text: "contains", needsValue: true, list: false },
  { op: "EXISTS", text: "exists", needsValue: false, list: false },
];

export type Condition = { field: string; op: FilterOp; value: string };
export type Builder = { conditions: Condition[]; labels: string[] };

export const EMPTY_BUILDER: Builder = { conditions: [], labels: [] };

/** A typed value from the text box: numbers and true/false as JSON, anything else a string;
 * IN/NOT_IN take a comma-separated list. */
export function parseValue(text: string, list: boolean): unknown {
  const one = (part: string): unknown => {
    const trimmed = part.trim();
    if (trimmed === "true") return true;
    if (trimmed === "false") return false;
    if (trimmed === "null") return null;
    if (trimmed !== "" && Number.isFinite(Number(trimmed))) return Number(trimmed);
    return trimmed;
  };
  return list ? text.split(",").filter((p) => p.trim() !== "").map(one) : one(text);
}

export function builderFilter(builder: Builder): ItemFilter | null {
  const parts: ItemFilter[] = [];
  for (const condition of builder.conditions) {
    if (!condition.field.trim()) continue;
    const meta = OPERATORS.find((o) => o.op === condition.op);
    parts.push({
      metadata: {
        field: condition.field.trim(),
        op: condition.op,
        value: meta?.needsValue ? parseValue(condition.value, meta.list) : null,
      },
    });
  }
  if (builder.labels.length) parts.push({ hasAnnotationLabel: builder.labels });
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0] : { and: parts };
}

/** A saved slice (its filter in GraphQL names and/or its referenceIds) as an ItemFilter. */
export function sliceFilter(slice: { filter?: unknown; referenceIds?: readonly string[] | null }): ItemFilter | null {
  const parts: ItemFilter[] = [];
  if (slice.filter && typeof slice.filter === "object") parts.push(slice.filter as ItemFilter);
  if (slice.referenceIds) parts.push({ referenceIds: [...slice.referenceIds] });
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0] : { and: parts };
}

/** Both filters must hold; null when neither filters anything. */
export function both(a: ItemFilter | null, b: ItemFilter | null): ItemFilter | null {
  if (a && b) return { and: [a, b] };
  return a ?? b;
}

/** Dotted metadata paths seen in a sample of items: suggestions for the field box. */
export function metadataPaths(samples: readonly unknown[], limit = 200): string[] {
  const found = new Set<string>();
  const walk = (value: unknown, prefix: string, depth: number): void => {
    if (found.size >= limit || depth > 4) return;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        walk(inner, prefix ? `${prefix}.${key}` : key, depth + 1);
      }
    } else if (prefix) {
      found.add(prefix);
    }
  };
  for (const sample of samples) walk(sample, "", 0);
  return [...found].sort();
}
