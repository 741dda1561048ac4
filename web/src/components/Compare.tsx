import { onLink } from "../router";

/** The comparison of two runs (deltas per label with intervals, fixed and broken objects)
 * lives here: it needs the server's `compareRuns` query, which this build's schema does not
 * have yet, so the view says so instead of showing numbers it cannot get. */
export function Compare({ runId }: { runId: string }) {
  return (
    <main>
      <p>
        <a href={`/runs/${encodeURIComponent(runId)}`} onClick={onLink}>
          ← back to the run
        </a>
      </p>
      <h1>Compare runs</h1>
      <p data-testid="compare-unavailable">
        Comparing runs needs the server's <code>compareRuns</code> query, which this server's schema does not offer yet.
      </p>
    </main>
  );
}
