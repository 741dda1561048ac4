import { useEffect, useRef, useState } from "preact/hooks";
import { request, subscribe } from "../api/client";
import { EvaluateMutation, JobSubscription } from "../api/operations";
import { allows } from "../api/permissions";

type JobState = { status: string; progress: number; message?: string | null; error?: string | null };

/** Queues a new evaluation and shows its progress live from Subscription.job; calls `onDone`
 * when it succeeds so the page reloads its numbers. */
export function Reevaluate({ runId, onDone }: { runId: string; onDone: () => void }) {
  const [job, setJob] = useState<JobState | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const stop = useRef<(() => void) | null>(null);
  useEffect(() => () => stop.current?.(), []);
  if (!allows("reevaluate")) return null;
  const running = job !== null && (job.status === "QUEUED" || job.status === "RUNNING");
  return (
    <div class="reevaluate">
      <button
        type="button"
        data-testid="reevaluate"
        disabled={running}
        onClick={async () => {
          setProblem(null);
          try {
            const answer = (await request(EvaluateMutation, { run: runId })).calculateEvaluationMetrics;
            if (answer.__typename !== "Job") {
              setProblem("errorMessage" in answer ? answer.errorMessage : "refused");
              return;
            }
            setJob(answer);
            stop.current?.();
            stop.current = subscribe(JobSubscription, { id: answer.id }, {
              next: ({ job: now }) => {
                setJob(now);
                if (now.status === "SUCCEEDED") onDone();
              },
              error: (error) => setProblem(error instanceof Error ? error.message : "the job subscription failed"),
              complete: () => undefined,
            });
          } catch (error) {
            setProblem(error instanceof Error ? error.message : String(error));
          }
        }}
      >
        Re-evaluate
      </button>
      {job && (
        <span class="job" data-testid="job-status" aria-live="polite">
          <progress max={1} value={job.progress} aria-label="evaluation progress" /> {job.status.toLowerCase()} {Math.round(job.progress * 100)}%
          {job.message ? ` · ${job.message}` : ""}
          {job.error ? ` · ${job.error}` : ""}
        </span>
      )}
      {problem && <span role="alert" class="error">{problem}</span>}
    </div>
  );
}
