import { useCallback, useMemo, useRef, useState } from "preact/hooks";
import { request } from "../api/client";
import { CompareHeaderQuery, CompareQuery } from "../api/operations";
import {
  clampResamples,
  comparedRuns,
  type CompareState,
  deltaRow,
  formatCompareState,
  MAX_RESAMPLES,
  MAX_RUNS,
  METRICS,
  MIN_RESAMPLES,
  parseCompareState,
  toggleRun,
} from "../lib/compareState";
import { fixed } from "../lib/format";
import { clampConfidence, IOU_MAX, IOU_MIN, IOU_STEP, snapIou } from "../lib/thresholds";
import { useAsync } from "../lib/useAsync";
import { navigate, onLink } from "../router";
import { ComparedGallery } from "./ComparedGallery";
import { DeltaCell, DeltaTable, METRIC_NAMES } from "./DeltaTable";
import { ErrorNote } from "./ErrorNote";

const TRANSITIONS = [
  ["fixed", "Fixed (missed → found)"],
  ["broken", "Broken (found → missed)"],
  ["stillMissed", "Still missed"],
  ["stillFound", "Still found"],
  ["newFalsePositives", "New false positives"],
  ["removedFalsePositives", "Removed false positives"],
] as const;

/** `/runs/{id}/compare`: the run against other runs of its dataset (compareRuns): deltas
 * overall and per label with paired-bootstrap intervals and p-values, object transitions, and
 * the objects themselves. The state is in the URL. */
export function Compare({ runId, search }: { runId: string; search: string }) {
  const state = useMemo(() => parseCompareState(search, runId), [search, runId]);
  const [pages, setPages] = useState<(string | null)[]>([]);
  const latest = useRef(state);
  latest.current = state;
  const update = useCallback(
    (change: Partial<CompareState>, push = false) => {
      navigate(`/runs/${encodeURIComponent(runId)}/compare${formatCompareState({ ...latest.current, ...change })}`, !push);
    },
    [runId],
  );
  // resamples are typed into a field and sent on "apply", not on each keystroke
  const [resamplesDraft, setResamplesDraft] = useState<string | null>(null);

  const header = useAsync((signal) => request(CompareHeaderQuery, { run: runId }, signal), [runId]);
  const compared = comparedRuns(state, runId);
  const comparison = useAsync(
    (signal) =>
      compared
        ? request(
            CompareQuery,
            { runs: compared.runIds, baseline: compared.baselineId, slice: state.slice, iou: state.iou, confidence: state.confidence, resamples: state.resamples },
            signal,
          )
        : Promise.resolve(null),
    [compared?.runIds.join(","), state.slice, state.iou, state.confidence, state.resamples],
  );

  if (header.error) return <main><ErrorNote error={header.error} /></main>;
  if (!header.data) return <main aria-busy="true"><p>Loading…</p></main>;
  const run = header.data.modelRun;
  if (!run) return <main><p role="alert">No model run with id {runId}.</p></main>;

  const allRuns = run.dataset.modelRuns;
  const name = (id: string) => allRuns.find((r) => r.id === id)?.name ?? id;
  const chosen = [runId, ...state.others];
  const answer = comparison.data?.compareRuns ?? null;
  const candidates = answer?.candidates ?? [];
  const shownCandidate = candidates.find((c) => c.run.id === state.candidate) ?? candidates[0] ?? null;

  return (
    <main>
      <p>
        <a href={`/runs/${encodeURIComponent(runId)}`} onClick={onLink}>
          ← back to the run
        </a>
      </p>
      <h1>
        Compare {run.name} <small>{run.model.name} on {run.dataset.name}</small>
      </h1>

      <section class="card controls" aria-label="Runs, baseline and thresholds">
        <fieldset>
          <legend>Runs of {run.dataset.name} (2 to {MAX_RUNS})</legend>
          {allRuns.map((other) => (
            <label key={other.id}>
              <input
                type="checkbox"
                data-testid="compare-run"
                value={other.id}
                checked={chosen.includes(other.id)}
                disabled={other.id === runId || (!chosen.includes(other.id) && chosen.length >= MAX_RUNS)}
                onChange={() => update(toggleRun(state, other.id), true)}
              />
              {other.name} <small>({other.model.name}{other.evaluation ? `, ${other.evaluation.status.toLowerCase()}` : ", not evaluated"})</small>
            </label>
          ))}
        </fieldset>
        <label>
          Baseline{" "}
          <select data-testid="baseline-select" value={state.baseline ?? runId} onChange={(e) => update({ baseline: e.currentTarget.value === runId ? null : e.currentTarget.value, after: null })}>
            {chosen.map((id) => (
              <option key={id} value={id}>
                {name(id)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Slice{" "}
          <select data-testid="slice-select" value={state.slice ?? ""} onChange={(e) => update({ slice: e.currentTarget.value || null, after: null }, true)}>
            <option value="">All items</option>
            {run.dataset.slices.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          IoU threshold <output>{state.iou.toFixed(2)}</output>
          <input
            type="range"
            data-testid="iou-threshold"
            min={IOU_MIN}
            max={IOU_MAX}
            step={IOU_STEP}
            value={state.iou}
            onChange={(e) => update({ iou: snapIou(Number(e.currentTarget.value)), after: null })}
          />
        </label>
        <label>
          Confidence threshold <output>{state.confidence.toFixed(2)}</output>
          <input
            type="range"
            data-testid="confidence-threshold"
            min={0}
            max={1}
            step={0.01}
            value={state.confidence}
            onChange={(e) => update({ confidence: clampConfidence(Number(e.currentTarget.value)), after: null })}
          />
        </label>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (resamplesDraft !== null) update({ resamples: clampResamples(Number(resamplesDraft)) });
            setResamplesDraft(null);
          }}
        >
          <label>
            Bootstrap resamples{" "}
            <input
              type="number"
              data-testid="resamples"
              min={MIN_RESAMPLES}
              max={MAX_RESAMPLES}
              value={resamplesDraft ?? state.resamples}
              onInput={(e) => setResamplesDraft(e.currentTarget.value)}
            />
          </label>{" "}
          <button type="submit">Apply</button>
        </form>
      </section>

      {!compared && <p data-testid="compare-pick">Pick at least one other run of this dataset to compare with.</p>}
      {comparison.error && <ErrorNote error={comparison.error} />}
      {compared && !answer && !comparison.error && <p aria-busy="true">Comparing (a bootstrap of {state.resamples} resamples)…</p>}
      {answer && (
        <>
          {answer.isStale && (
            <p role="status" class="error" data-testid="compare-stale">
              Stale evaluation: {answer.staleRuns.map((r) => r.name).join(", ")} changed since evaluated; re-evaluate before trusting the numbers.
            </p>
          )}
          <p aria-live="polite">
            Baseline <strong data-testid="compare-baseline">{answer.baseline.name}</strong>; intervals at {Math.round(answer.level * 100)}% from {answer.resamples}{" "}
            paired-bootstrap resamples over items{comparison.loading ? " (updating…)" : ""}.
          </p>
          {candidates.map((candidate) => (
            <section class="card" key={candidate.run.id} data-testid="candidate" data-run-id={candidate.run.id} aria-label={`${candidate.run.name} against ${answer.baseline.name}`}>
              <h2>
                {candidate.run.name} − {answer.baseline.name}
              </h2>
              <div class="table-scroll" role="region" aria-label="Overall deltas" tabIndex={0}>
                <table data-testid="overall-deltas">
                  <caption>Overall (delta [interval] p-value)</caption>
                  <thead>
                    <tr>
                      {METRICS.map((m) => (
                        <th scope="col" key={m}>
                          Δ {METRIC_NAMES[m]}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    <tr>
                      {METRICS.map((m) => (
                        <DeltaCell key={m} value={candidate.overall[m]} testid={`delta-${m}`} />
                      ))}
                    </tr>
                    <tr>
                      {METRICS.map((m) => (
                        <td key={m} class="muted">
                          {fixed(candidate.overall[m].baseline)} → {fixed(candidate.overall[m].candidate)}
                        </td>
                      ))}
                    </tr>
                  </tbody>
                </table>
              </div>
              <dl class="transitions" data-testid="transitions">
                {TRANSITIONS.map(([key, text]) => (
                  <div key={key}>
                    <dt>{text}</dt>
                    <dd data-testid={`transition-${key}`}>{candidate.transitions[key]}</dd>
                  </div>
                ))}
              </dl>
              <DeltaTable rows={candidate.perLabel.map((l) => ({ row: deltaRow(l.label, l, l.transitions), deltas: l }))} />
            </section>
          ))}
        </>
      )}
      {compared && shownCandidate && (
        <ComparedGallery
          runs={compared.runIds}
          baselineId={compared.baselineId}
          candidateId={shownCandidate.run.id}
          candidates={candidates.map((c) => c.run)}
          labels={run.dataset.labels}
          datasetId={run.dataset.id}
          slice={state.slice}
          iou={state.iou}
          confidence={state.confidence}
          kind={state.kind}
          label={state.label}
          after={state.after}
          onChange={(change) => {
            setPages([]);
            update(change);
          }}
          canGoBack={pages.length > 0}
          onPrevious={() => {
            const previous = pages[pages.length - 1] ?? null;
            setPages(pages.slice(0, -1));
            update({ after: previous });
          }}
          onNext={(after) => {
            setPages([...pages, state.after]);
            update({ after });
          }}
        />
      )}
    </main>
  );
}
