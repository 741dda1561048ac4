import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { request } from "./api/client";
import { ViewerQuery } from "./api/operations";
import { type Scope, setCurrentScope } from "./api/permissions";
import { AuthPrompt } from "./components/AuthPrompt";
import { Compare } from "./components/Compare";
import { Home } from "./components/Home";
import { RunPage } from "./components/RunPage";
import { routeOf, useLocation, onLink } from "./router";
import "./style.css";

function App() {
  const location = useLocation();
  const [attempt, setAttempt] = useState(0); // a new key re-runs every request
  const route = routeOf(location.pathname);
  const [, setScope] = useState<Scope | null>(null);
  useEffect(() => {
    // The key's scope decides which buttons show (api/permissions.ts); a failure leaves it
    // unknown, so every button shows and the server refuses what the key may not do.
    request(ViewerQuery)
      .then((answer) => {
        const scope = answer.viewer.scope.toLowerCase() as Scope;
        setCurrentScope(scope);
        setScope(scope);
      })
      .catch(() => undefined);
  }, [attempt]);
  return (
    <>
      <nav class="top" aria-label="Sliceboard">
        <a href="/" onClick={onLink}>Sliceboard Insights</a>
        <a href="/graphql">GraphiQL</a>
      </nav>
      <div key={attempt}>
        {route.page === "home" && <Home />}
        {route.page === "run" && <RunPage runId={route.runId} search={location.search} />}
        {route.page === "compare" && <Compare runId={route.runId} search={location.search} />}
        {route.page === "missing" && (
          <main>
            <p role="alert">No page at {route.path}.</p>
          </main>
        )}
      </div>
      <AuthPrompt onKey={() => setAttempt((a) => a + 1)} />
    </>
  );
}

render(<App />, document.getElementById("app")!);
