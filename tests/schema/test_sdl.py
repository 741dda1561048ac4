"""The committed SDL is the schema we serve; regenerate it with
``python -c "from sliceboard.schema.schema import sdl, SDL_PATH; SDL_PATH.write_text(sdl())"``."""

from __future__ import annotations

from sliceboard.schema.schema import SDL_PATH, sdl


def test_committed_sdl_matches_the_schema() -> None:
    assert SDL_PATH.read_text() == sdl(), (
        "schema/schema.graphql is stale: regenerate it (see this module's docstring)"
    )
