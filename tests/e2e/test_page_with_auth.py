"""With keys required the Insights page still loads (its shell and assets hold no data), so it can
ask for a key; everything with data (GraphQL, downloads, /media) still needs one."""

from __future__ import annotations

from sliceboard.config import Settings
from tests.support.principals import Keys, app_client, auth_required


async def test_the_page_loads_without_a_key_and_the_data_needs_one(sqlite_url: str) -> None:
    key = await Keys(sqlite_url).header("reader", "read")
    async with app_client(
        auth_required(Settings(database_url=sqlite_url, run_jobs=False))
    ) as client:
        for path in ("/", "/runs/1", "/runs/1/compare"):
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)
        query = {"query": "{ viewer { scope } }"}
        assert (await client.post("/graphql", json=query)).status_code == 401
        for path in ("/media?url=a.png", "/files/abc"):
            assert (await client.get(path)).status_code == 401, path
        answer = await client.post("/graphql", json=query, headers=key)
        assert answer.json() == {"data": {"viewer": {"scope": "READ"}}}
