import { request } from "../api/client";
import { CustomMetricsQuery } from "../api/operations";
import type { ItemFilter } from "../gql/graphql";
import { count, fixed } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { ErrorNote } from "./ErrorNote";

/** The run's uploaded custom metrics aggregated over the current slice and filter. */
export function CustomMetrics({ runId, slice, filter }: { runId: string; slice: string | null; filter: ItemFilter | null }) {
  const metrics = useAsync((signal) => request(CustomMetricsQuery, { run: runId, slice, filter }, signal), [runId, slice, JSON.stringify(filter)]);
  const rows = metrics.data?.modelRun?.customMetrics ?? [];
  return (
    <section class="card" aria-labelledby="custom-title">
      <h2 id="custom-title">Custom metrics</h2>
      {metrics.error && <ErrorNote error={metrics.error} />}
      {!metrics.loading && rows.length === 0 && <p>None uploaded for this run.</p>}
      {rows.length > 0 && (
        <table data-testid="custom-metrics">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Source</th>
              <th scope="col">Aggregation</th>
              <th scope="col">Value</th>
              <th scope="col">Rows</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((metric) => (
              <tr key={`${metric.source}:${metric.name}`}>
                <th scope="row">{metric.name}</th>
                <td>{metric.source.toLowerCase()}</td>
                <td>{metric.aggregation.toLowerCase().replace("_", " ")}</td>
                <td>
                  {metric.confusion
                    ? `P ${fixed(metric.confusion.precision)} R ${fixed(metric.confusion.recall)} F1 ${fixed(metric.confusion.f1)}`
                    : fixed(metric.value)}
                </td>
                <td>{count(metric.count)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
