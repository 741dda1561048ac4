/** The API key, when the server asks for one (401 with WWW-Authenticate: Bearer): kept in this
 * tab's session storage only — never in the bundle or the URL. */

const STORAGE_KEY = "sliceboard.apiKey";
type Listener = (needed: boolean) => void;
const listeners = new Set<Listener>();
let needed = false;

export function apiKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(STORAGE_KEY, key);
  else sessionStorage.removeItem(STORAGE_KEY);
  needed = false;
  listeners.forEach((listener) => listener(needed));
}

export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** The server refused the request for want of a (valid) key: the page asks for one. */
export function keyNeeded(): void {
  needed = true;
  listeners.forEach((listener) => listener(needed));
}

export function onKeyNeeded(listener: Listener): () => void {
  listeners.add(listener);
  listener(needed);
  return () => listeners.delete(listener);
}

/** graphql-transport-ws connection_init payload. */
export function connectionParams(): Record<string, string> {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}
