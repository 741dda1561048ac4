"""The page's routes on the real app: the built page at / and /runs/{id} (or a note on how to
get it), GraphiQL from local assets, and /media serving only files under the media root."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sliceboard.app import create_app
from sliceboard.config import Settings, SettingsError
from sliceboard.web import resolve_media


def built_page(folder: Path) -> Path:
    """A stand-in build: index.html, a hashed asset, GraphiQL's seven files."""
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>Insights</title><div id=app></div>")
    (folder / "assets" / "index-abc.js").write_text("console.log(1)")
    graphiql = folder / "graphiql"
    graphiql.mkdir()
    for name in (
        "react.production.min.js", "react-dom.production.min.js", "js.cookie.min.js",
        "graphiql.min.css", "graphiql.min.js", "plugin-explorer.css", "plugin-explorer.umd.js",
    ):  # fmt: skip
        (graphiql / name).write_text(f"/* {name} */")
    return folder


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "secret.txt").write_text("not for you")
    os.symlink(tmp_path / "secret.txt", root / "images" / "link.txt")
    return root


async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, migrate=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as http,
    ):
        yield http


@pytest.fixture
async def served(
    database_url: str, tmp_path: Path, media: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=database_url,
        run_jobs=False,
        web_dir=str(built_page(tmp_path / "page")),
        media_root=str(media),
    )
    async for http in client(settings):
        yield http


async def test_page_routes_answer_the_page(served: httpx.AsyncClient) -> None:
    for path in ("/", "/runs/12", "/runs/12/compare"):
        response = await served.get(path)
        assert response.status_code == 200, path
        assert "<title>Insights</title>" in response.text
    asset = await served.get("/assets/index-abc.js")
    assert asset.status_code == 200 and asset.text == "console.log(1)"
    assert (await served.get("/assets/missing.js")).status_code == 404
    assert (await served.get("/elsewhere")).status_code == 404


async def test_graphiql_loads_its_assets_from_this_server(served: httpx.AsyncClient) -> None:
    page = await served.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "unpkg.com" not in page.text
    assert '"/graphiql-assets/graphiql.min.js"' in page.text
    script = await served.get("/graphiql-assets/graphiql.min.js")
    assert script.text == "/* graphiql.min.js */"


async def test_media_serves_files_under_the_root_only(
    served: httpx.AsyncClient, media: Path
) -> None:
    ok = await served.get("/media", params={"url": "images/a.png"})
    assert ok.status_code == 200 and ok.content == b"\x89PNG fake"
    assert ok.headers["content-type"] == "image/png"
    absolute = await served.get("/media", params={"url": f"file://{media}/images/a.png"})
    assert absolute.status_code == 200
    for url in (
        "../secret.txt", "images/../../secret.txt", str(media.parent / "secret.txt"),
        "images/link.txt", "file:///etc/passwd", "/etc/passwd", "images", "missing.png",
        "https://example.com/a.png", "file://otherhost/images/a.png", "images/a.png\x00",
    ):  # fmt: skip
        response = await served.get("/media", params={"url": url})
        assert response.status_code == 404, url


async def test_without_a_build_the_root_says_how_to_get_the_page(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, run_jobs=False, web_dir=str(tmp_path))
    async for http in client(settings):
        response = await http.get("/")
        assert response.status_code == 200
        assert "npm run build" in response.text and "/graphql" in response.text
        assert (await http.get("/media", params={"url": "a.png"})).status_code == 404
        ide = await http.get("/graphql", headers={"Accept": "text/html"})
        assert "unpkg.com" in ide.text  # strawberry's own page, as before


def test_media_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SLICEBOARD_MEDIA_ROOT"):
        Settings(media_root=str(tmp_path / "nope"))


def test_resolve_media_follows_links_before_checking(media: Path) -> None:
    assert resolve_media("images/a.png", media.resolve()) == (media / "images" / "a.png").resolve()
    assert resolve_media("images/link.txt", media.resolve()) is None
