"""The Insights page and GraphiQL's assets, served from the built page in the package, and item
images under the media root.

``npm run build`` in ``web/`` (run by ``pip install .`` when Node.js is present) writes the page
to ``server/web_dist`` (``sliceboard/web_dist`` once installed). Every page route answers the
same ``index.html`` (the page routes itself from the URL). Without a build, ``/`` says how to
get the page; the API works either way.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from sliceboard.config import Settings

PACKAGED_PAGE = Path(__file__).resolve().parent / "web_dist"
GRAPHIQL_ASSETS = "/graphiql-assets"
# strawberry's GraphiQL template -> the copies web/scripts/copy-graphiql.mjs puts beside the page
_GRAPHIQL_FILES = {
    r"https://unpkg\.com/react@[^/]+/umd/react\.production\.min\.js": "react.production.min.js",
    r"https://unpkg\.com/react-dom@[^/]+/umd/react-dom\.production\.min\.js": "react-dom.production.min.js",
    r"https://unpkg\.com/js-cookie@[^/]+/dist/js\.cookie\.min\.js": "js.cookie.min.js",
    r"https://unpkg\.com/graphiql@[^/]+/graphiql\.min\.css": "graphiql.min.css",
    r"https://unpkg\.com/graphiql@[^/]+/graphiql\.min\.js": "graphiql.min.js",
    r"https://unpkg\.com/@graphiql/plugin-explorer@[^/]+/dist/style\.css": "plugin-explorer.css",
    r"https://unpkg\.com/@graphiql/plugin-explorer@[^/]+/dist/index\.umd\.js": "plugin-explorer.umd.js",
}

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sliceboard</title></head>
<body><main>
<h1>Sliceboard</h1>
<p>The GraphQL API is at <a href="/graphql">/graphql</a>.</p>
<p>The Insights page is not part of this installation: it is built when Node.js and npm are
present at install time. Install Node.js 18 or newer and reinstall
(<code>pip install --force-reinstall --no-deps sliceboard</code> from a source checkout), or
build it in place with <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>, or set
<code>SLICEBOARD_WEB_DIR</code> to a built page.</p>
</main></body></html>
"""


def page_directory(settings: Settings) -> Path:
    return Path(settings.web_dir) if settings.web_dir else PACKAGED_PAGE


def local_graphiql_html(template: str, directory: Path) -> str | None:
    """strawberry's GraphiQL page loading its scripts and styles from this server (the
    unpkg.com copies made it blank offline); None when the assets were not built."""
    assets = directory / "graphiql"
    if not all((assets / name).is_file() for name in _GRAPHIQL_FILES.values()):
        return None
    page = re.sub(r'\s(integrity="[^"]*"|crossorigin)', "", template)
    for pattern, name in _GRAPHIQL_FILES.items():
        page = re.sub(pattern, f"{GRAPHIQL_ASSETS}/{name}", page)
    return None if "unpkg.com" in page else page


def resolve_media(url: str, root: Path) -> Path | None:
    """The file an item URL names, when it lies under ``root`` (symbolic links resolved first);
    None otherwise. A relative path is taken from the root; ``file://`` URLs and absolute
    paths must land inside it."""
    if "\x00" in url:
        return None
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        raw = Path(unquote(parsed.path))
    elif parsed.scheme == "":
        raw = Path(url)
    else:
        return None
    candidate = raw if raw.is_absolute() else root / raw
    try:
        found = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return found if found.is_file() and found.is_relative_to(root) else None


def web_routes(settings: Settings) -> list[BaseRoute]:
    directory = page_directory(settings)
    index = directory / "index.html"
    media_root = Path(settings.media_root).resolve() if settings.media_root else None

    async def page(_request: Request) -> Response:
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(NOT_BUILT)

    async def media(request: Request) -> Response:
        url = request.query_params.get("url", "")
        if media_root is None:
            return PlainTextResponse(
                "no media root is configured (SLICEBOARD_MEDIA_ROOT)", status_code=404
            )
        found = resolve_media(url, media_root)
        if found is None:
            return PlainTextResponse(
                f"no file under the media root for {html.escape(url)!r}", status_code=404
            )
        return FileResponse(found, headers={"X-Content-Type-Options": "nosniff"})

    routes: list[BaseRoute] = [
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/runs/{rest:path}", page, methods=["GET", "HEAD"]),
        Route("/media", media, methods=["GET", "HEAD"]),
    ]
    for prefix, folder in (("/assets", "assets"), (GRAPHIQL_ASSETS, "graphiql")):
        if (directory / folder).is_dir():
            routes.append(Mount(prefix, StaticFiles(directory=directory / folder)))
    return routes
