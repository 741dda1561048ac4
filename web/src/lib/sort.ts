export type SortDirection = "asc" | "desc";

/** Rows sorted by one key, nulls last in both directions, ties kept in their order. */
export function sortRows<T>(rows: readonly T[], key: keyof T, direction: SortDirection): T[] {
  const sign = direction === "asc" ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index }))
    .sort((a, b) => {
      const x = a.row[key] as unknown;
      const y = b.row[key] as unknown;
      if (x === y) return a.index - b.index;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      if (typeof x === "number" && typeof y === "number") return sign * (x - y) || a.index - b.index;
      return sign * String(x).localeCompare(String(y)) || a.index - b.index;
    })
    .map(({ row }) => row);
}
