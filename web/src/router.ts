/** Routes by path: `/` lists datasets and runs, `/runs/{id}` is a run's page and
 * `/runs/{id}/compare` its comparison. The server answers every one with the page. */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "home" }
  | { page: "run"; runId: string }
  | { page: "compare"; runId: string }
  | { page: "missing"; path: string };

export function routeOf(pathname: string): Route {
  if (pathname === "/" || pathname === "") return { page: "home" };
  const run = /^\/runs\/([^/]+)\/?$/.exec(pathname);
  if (run) return { page: "run", runId: decodeURIComponent(run[1]) };
  const compare = /^\/runs\/([^/]+)\/compare\/?$/.exec(pathname);
  if (compare) return { page: "compare", runId: decodeURIComponent(compare[1]) };
  return { page: "missing", path: pathname };
}

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((listener) => listener());
}

export function useLocation(): { pathname: string; search: string } {
  const read = () => ({ pathname: window.location.pathname, search: window.location.search });
  const [location, setLocation] = useState(read);
  useEffect(() => {
    const update = () => setLocation(read());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return location;
}

/** An in-page link: plain anchors (they work without script, open in new tabs), handled here
 * on a plain click. */
export function onLink(event: MouseEvent): void {
  const anchor = (event.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!anchor || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute("href") ?? "/");
}
