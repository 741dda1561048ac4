import { useEffect, useState } from "preact/hooks";
import { onKeyNeeded, setApiKey } from "../api/auth";
import { resetSocket } from "../api/client";

/** Asks for an API key when the server refused a request without one; the key stays in this
 * tab's session storage. */
export function AuthPrompt({ onKey }: { onKey: () => void }) {
  const [needed, setNeeded] = useState(false);
  const [key, setKey] = useState("");
  useEffect(() => onKeyNeeded(setNeeded), []);
  if (!needed) return null;
  return (
    <div class="overlay">
      <form
        role="dialog"
        aria-modal="true"
        aria-labelledby="auth-title"
        class="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          setApiKey(key.trim());
          resetSocket();
          setKey("");
          onKey();
        }}
      >
        <h2 id="auth-title">API key needed</h2>
        <p>This server requires an API key. It is kept in this browser tab only (session storage).</p>
        <label>
          API key
          <input data-testid="api-key" type="password" autoFocus autoComplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={!key.trim()}>
          Use key
        </button>
      </form>
    </div>
  );
}
