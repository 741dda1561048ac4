import { useCallback, useMemo, useRef, useState } from "preact/hooks";
import { request } from "../api/client";
import { CurveQuery, RunHeaderQuery, SummaryQuery, ThresholdQuery } from "../api/operations";
import { both, builderFilter, metadataPaths, sliceFilter } from "../lib/filters";
import { count, fixed, microAverage } from "../lib/format";
import { clampConfidence, IOU_MAX, IOU_MIN, IOU_STEP, snapIou } from "../lib/thresholds";
import { useAsync } from "../lib/useAsync";
import { useDebounced } from "../lib/useDebounced";
import { formatState, parseState, type Cell, type RunState } from "../lib/urlState";
import { navigate, onLink } from "../router";
import { CellList } from "./CellList";
import { ConfusionMatrix } from "./ConfusionMatrix";
import { CustomMetrics } from "./CustomMetrics";
import { ErrorNote } from "./ErrorNote";
import { FilterBuilder } from "./FilterBuilder";
import { Gallery } from "./Gallery";
import { LabelTable } from "./LabelTable";
import { PrCurve } from "./PrCurve";
import { Reevaluate } from "./Reevaluate";

/** `/runs/{id}`: the run's numbers at the thresholds, slice and filter in the URL. */
export function RunPage({ runId, search }: { runId: string; search: string }) {
  const state = useMemo(() => parseState(search), [search]);
  const [version, setVersion] = useState(0); // bumped after a re-evaluation
  const [pages, setPages] = useState<(string | null)[]>([]);
  // one update function for the page's life, reading the state at call time, so the pure
  // children it is given do not render again for a new closure
  const latest = useRef(state);
  latest.current = state;
  const update = useCallback(
    (change: Partial<RunState>, push = false) => {
      navigate(`/runs/${encodeURIComponent(runId)}${formatState({ ...latest.current, ...change })}`, !push);
    },
    [runId],
  );
  const pickLabel = useCallback((label: string) => update({ label, after: null }), [update]);
  const pickCell = useCallback((cell: Cell) => update({ cell }), [update]);

  const header = useAsync((signal) => request(RunHeaderQuery, { run: runId }, signal), [runId, version]);
  const run = header.data?.modelRun ?? null;
  const slices = run?.dataset.slices ?? [];
  const slice = slices.find((s) => s.id === state.slice) ?? null;
  const builder = builderFilter(state.builder);
  const evaluated = run?.evaluation?.status === "SUCCEEDED";
  // metrics and custom metrics take the slice id and the builder's filter; the browse fields
  // take one filter, so there the slice becomes a filter too
  const key = JSON.stringify(builder);
  const itemFilter = useMemo(() => both(slice ? sliceFilter(slice) : null, builder), [slice, key]);

  // the numbers are asked for at once, beside the header (a run not evaluated yet answers an
  // error, shown as "not evaluated" once the header says so)
  const summary = useAsync(
    (signal) => request(SummaryQuery, { run: runId, slice: state.slice, filter: builder }, signal),
    [runId, state.slice, key, version],
  );
  const thresholds = useAsync(
    (signal) => request(ThresholdQuery, { run: runId, slice: state.slice, filter: builder, iou: state.iou, confidence: state.confidence }, signal),
    [runId, state.slice, key, state.iou, state.confidence, version],
  );
  const curve = useAsync(
    (signal) => request(CurveQuery, { run: runId, slice: state.slice, filter: builder, iou: state.iou, label: state.label }, signal),
    [runId, state.slice, key, state.iou, state.label, version],
  );

  // the gallery waits for the numbers, then follows the thresholds once they rest
  const liveView = JSON.stringify([itemFilter, state.iou, state.confidence, state.label]);
  const galleryView = useDebounced(liveView, 400);
  const numbersShown = thresholds.data !== null || thresholds.error !== null;
  const galleryReady = numbersShown && galleryView === liveView && !thresholds.loading;

  if (header.error) return <main><ErrorNote error={header.error} /></main>;
  if (!header.data) return <main aria-busy="true"><p>Loading…</p></main>;
  if (!run) return <main><p role="alert">No model run with id {runId}.</p></main>;

  const metrics = summary.data?.modelRun?.metrics ?? null;
  const perLabel = thresholds.data?.modelRun?.metrics.perLabel ?? [];
  const matrix = thresholds.data?.modelRun?.metrics.confusionMatrix ?? null;
  const overall = microAverage(perLabel);
  const fields = metadataPaths(run.dataset.items.edges.map((e) => e.node.metadata));

  return (
    <main>
      <p>
        <a href="/" onClick={onLink}>← all runs</a>
      </p>
      <header class="run-header">
        <h1>
          {run.name} <small>{run.model.name} on {run.dataset.name}</small>
        </h1>
        <p data-testid="evaluation-status">
          {run.evaluation
            ? `Evaluation v${run.evaluation.version}: ${run.evaluation.status.toLowerCase()}${run.evaluation.isStale ? " — stale (data changed since)" : " — up to date"}`
            : "Not evaluated yet."}
          {run.evaluation?.error ? ` ${run.evaluation.error}` : ""}
        </p>
        <Reevaluate runId={runId} onDone={() => setVersion((v) => v + 1)} />
        <a href={`/runs/${encodeURIComponent(runId)}/compare`} onClick={onLink}>
          Compare with another run
        </a>
      </header>

      <section class="card controls" aria-label="Selection and thresholds">
        <label>
          Slice{" "}
          <select data-testid="slice-select" value={state.slice ?? ""} onChange={(e) => update({ slice: e.currentTarget.value || null, cell: null, after: null }, true)}>
            <option value="">All items</option>
            {slices.map((s) => (
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
            onInput={(e) => update({ iou: snapIou(Number(e.currentTarget.value)), after: null })}
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
            onInput={(e) => update({ confidence: clampConfidence(Number(e.currentTarget.value)), after: null })}
          />
        </label>
        <label>
          Label{" "}
          <select data-testid="label-select" value={state.label ?? ""} onChange={(e) => update({ label: e.currentTarget.value || null, after: null })}>
            <option value="">All labels (pooled)</option>
            {run.dataset.labels.map((label) => (
              <option key={label} value={label}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </section>

      <FilterBuilder
        builder={state.builder}
        labels={run.dataset.labels}
        fields={fields}
        datasetId={run.dataset.id}
        combined={itemFilter}
        onChange={(next) => update({ builder: next, cell: null, after: null })}
        onSaved={(saved) => {
          setVersion((v) => v + 1);
          update({ slice: saved.id, builder: { conditions: [], labels: [] }, cell: null, after: null }, true);
        }}
      />

      {!evaluated ? (
        <p class="card">This run has no finished evaluation yet: re-evaluate it to see its metrics.</p>
      ) : (
        <>
          {(summary.error || thresholds.error || curve.error) && <ErrorNote error={(summary.error ?? thresholds.error ?? curve.error)!} />}
          <section class="card summary" aria-labelledby="summary-title" aria-busy={summary.loading || thresholds.loading}>
            <h2 id="summary-title">Summary</h2>
            {metrics && (
              <p>
                {count(metrics.itemCount)} items · {count(metrics.groundTruthCount)} ground truth · {count(metrics.predictionCount)} predictions
              </p>
            )}
            <dl class="numbers">
              <div><dt>AP</dt><dd data-testid="metric-ap">{fixed(metrics?.coco.ap)}</dd></div>
              <div><dt>AP50</dt><dd>{fixed(metrics?.coco.ap50)}</dd></div>
              <div><dt>AP75</dt><dd>{fixed(metrics?.coco.ap75)}</dd></div>
              <div><dt>AR100</dt><dd>{fixed(metrics?.coco.ar100)}</dd></div>
              <div><dt>Precision @ IoU {state.iou.toFixed(2)}, conf ≥ {state.confidence.toFixed(2)}</dt><dd data-testid="metric-precision">{fixed(overall.precision)}</dd></div>
              <div><dt>Recall</dt><dd data-testid="metric-recall">{fixed(overall.recall)}</dd></div>
              <div><dt>F1</dt><dd data-testid="metric-f1">{fixed(overall.f1)}</dd></div>
              <div><dt>TP / FP / FN</dt><dd data-testid="metric-counts">{`${count(overall.tp)} / ${count(overall.fp)} / ${count(overall.fn)}`}</dd></div>
            </dl>
            {metrics && (
              <details>
                <summary>All COCO numbers</summary>
                <dl class="numbers">
                  {Object.entries(metrics.coco)
                    .filter(([name]) => name !== "__typename")
                    .map(([name, value]) => (
                      <div key={name}><dt>{name}</dt><dd>{fixed(value as number)}</dd></div>
                    ))}
                </dl>
              </details>
            )}
          </section>
          <section class="card" aria-labelledby="labels-title">
            <h2 id="labels-title">Labels</h2>
            <LabelTable rows={perLabel} onPick={pickLabel} />
          </section>
          <div class="two">
            <section class="card" aria-labelledby="curve-title">
              <h2 id="curve-title">Precision and recall</h2>
              <PrCurve
                points={curve.data?.modelRun?.metrics.precisionRecallCurve ?? []}
                confidence={state.confidence}
                title={`${state.label ?? "all labels"} at IoU ${state.iou.toFixed(2)}`}
              />
            </section>
            <section class="card" aria-labelledby="matrix-title">
              <h2 id="matrix-title">Confusion</h2>
              {matrix && (
                <ConfusionMatrix
                  labels={matrix.labels}
                  counts={matrix.counts}
                  selectedKey={state.cell ? JSON.stringify([state.cell.gt, state.cell.pred]) : ""}
                  onSelect={pickCell}
                />
              )}
            </section>
          </div>
          {state.cell && (
            <CellList
              runId={runId}
              cell={state.cell}
              slice={state.slice}
              filter={builder}
              iou={state.iou}
              confidence={state.confidence}
              onClose={() => update({ cell: null })}
            />
          )}
          <CustomMetrics runId={runId} slice={state.slice} filter={builder} />
          <Gallery
            ready={galleryReady}
            runId={runId}
            datasetId={run.dataset.id}
            view={galleryView}
            outcome={state.outcome}
            order={state.order}
            after={state.after}
            onChange={(change) => {
              setPages([]);
              update(change, true);
            }}
            canGoBack={pages.length > 0}
            onPrevious={() => {
              const previous = pages[pages.length - 1] ?? null;
              setPages(pages.slice(0, -1));
              update({ after: previous }, true);
            }}
            onNext={(after) => {
              setPages([...pages, state.after]);
              update({ after }, true);
            }}
          />
        </>
      )}
    </main>
  );
}
