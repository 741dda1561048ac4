"""Responses are encoded with orjson, and what orjson refuses still goes out as JSON."""

from __future__ import annotations

import json

from sliceboard.authentication import Authenticator
from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.schema.http import SliceboardGraphQL


def test_encoding_is_json_and_falls_back_for_what_orjson_refuses(tmp_path) -> None:
    runtime = Runtime.create(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'e.db'}"))
    app = SliceboardGraphQL(runtime, Authenticator(runtime))
    page = {"data": {"items": [{"id": "1", "metadata": {"w": 0.5, "tags": ["a", "é"]}}]}}
    # compact, as orjson writes it (strawberry's json.dumps would put spaces after , and :)
    assert app.encode_json(page) == json.dumps(page, separators=(",", ":"), ensure_ascii=False)
    huge = {"data": {"metadata": {"n": 2**70}}}  # beyond orjson's 64-bit integers
    assert json.loads(app.encode_json(huge)) == huge
    assert isinstance(app.encode_json(page), str)  # text frames on websockets
