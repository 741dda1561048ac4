import { useState } from "preact/hooks";
import { request } from "../api/client";
import { DatasetsQuery } from "../api/operations";
import type { DatasetsQuery as DatasetsData } from "../gql/graphql";
import { onLink } from "../router";
import { useAsync } from "../lib/useAsync";
import { ErrorNote } from "./ErrorNote";

type DatasetNode = DatasetsData["datasets"]["edges"][number]["node"];

/** `/`: every dataset with its model runs and their evaluation status. */
export function Home() {
  const [after, setAfter] = useState<string | null>(null);
  const [shown, setShown] = useState<DatasetNode[]>([]);
  const page = useAsync(async (signal) => {
    const data = await request(DatasetsQuery, { after }, signal);
    setShown((previous) => [...(after ? previous : []), ...data.datasets.edges.map((e) => e.node)]);
    return data.datasets.pageInfo;
  }, [after]);
  return (
    <main>
      <h1>Datasets and model runs</h1>
      {page.error && <ErrorNote error={page.error} />}
      {!page.loading && shown.length === 0 && !page.error && (
        <p>No datasets yet: create one through the GraphQL API (<a href="/graphql">GraphiQL</a>).</p>
      )}
      {shown.map((dataset) => (
        <section key={dataset.id} class="card" aria-labelledby={`dataset-${dataset.id}`}>
          <h2 id={`dataset-${dataset.id}`}>{dataset.name}</h2>
          {dataset.modelRuns.length === 0 ? (
            <p>No model runs.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Model</th>
                  <th scope="col">Evaluation</th>
                </tr>
              </thead>
              <tbody>
                {dataset.modelRuns.map((run) => (
                  <tr key={run.id} data-testid="run-row">
                    <td>
                      <a href={`/runs/${encodeURIComponent(run.id)}`} onClick={onLink}>
                        {run.name}
                      </a>
                    </td>
                    <td>{run.model.name}</td>
                    <td>
                      {run.evaluation
                        ? `v${run.evaluation.version} ${run.evaluation.status.toLowerCase()}${run.evaluation.isStale ? " (stale)" : ""}`
                        : "not evaluated"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ))}
      {page.data?.hasNextPage && (
        <button type="button" onClick={() => setAfter(page.data?.endCursor ?? null)}>
          More datasets
        </button>
      )}
    </main>
  );
}
