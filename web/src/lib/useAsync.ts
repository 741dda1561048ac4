import { useEffect, useState } from "preact/hooks";

export type Async<T> = { data: T | null; error: Error | null; loading: boolean };

/** The latest answer of `load` for `deps`: an answer to older deps is dropped, and a request
 * still in flight is aborted when the deps change (a slider moving fast sends few requests).
 * While `enabled` is false nothing is asked, a request in flight is aborted (the server stops
 * working on it) and the last answer stays shown. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], enabled = true): Async<T> {
  const [state, setState] = useState<Async<T>>({ data: null, error: null, loading: true });
  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    setState((previous) => ({ data: previous.data, error: null, loading: true }));
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: null, loading: false });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState({ data: null, error: error instanceof Error ? error : new Error(String(error)), loading: false });
      },
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, enabled]);
  return state;
}
