"""What API keys cost per request: the same small query through the real ASGI app with
``--auth required`` (a Bearer key) and with ``--auth off``, in one process. (A measurement, not
a test.)

    python bench/auth_cost.py [--requests 20] [--rounds 60]

Batches of ``--requests`` alternate between the apps, so machine noise hits them alike; the
cost is the median over rounds of (required - off) in CPU time of the process (client, app and
database threads; in-process, so no network), paired within a round. A second
``--auth off`` app measured the same way gives the noise floor of that difference. Then the
authenticator alone per call: a cached key (the usual case: one HMAC and a dict lookup) and a
key whose cached row is stale (one indexed read of the key table).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from sliceboard.app import create_app
from sliceboard.authentication import Authenticator
from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.services.api_keys import new_key
from sliceboard.storage.migrate import upgrade_async

QUERY = {"query": "{ datasets(first: 1) { edges { node { name } } } }"}


@asynccontextmanager
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, migrate=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http,
    ):
        yield http


async def per_request(http: httpx.AsyncClient, headers: dict[str, str], requests: int) -> float:
    """CPU seconds of this process per request, ``requests`` in a row. CPU time, not wall time:
    on a shared machine the wall time mostly measures the other tenants."""
    started = time.process_time()
    for _ in range(requests):
        answer = await http.post("/graphql", json=QUERY, headers=headers)
        assert answer.status_code == 200, answer.text
    return (time.process_time() - started) / requests


async def authenticator_cost(settings: Settings, key: str, calls: int) -> tuple[float, float]:
    """Seconds per ``Authenticator.principal`` call: cached, and with a stale cache."""
    runtime = Runtime.create(settings)
    try:
        cached = Authenticator(runtime)
        await cached.start()
        header = f"Bearer {key}"
        await cached.principal(header)
        started = time.perf_counter()
        for _ in range(calls):
            await cached.principal(header)
        hit = (time.perf_counter() - started) / calls
        started = time.perf_counter()
        for _ in range(calls // 10):
            cached.forget()
            await cached.principal(header)
        miss = (time.perf_counter() - started) / (calls // 10)
    finally:
        await runtime.close()
    return hit, miss


async def main(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'auth.db'}"
        await upgrade_async(url)
        key = new_key()
        base = Settings(database_url=url, run_jobs=False, log_level="WARNING")
        required = base.with_overrides(auth="required", bootstrap_admin_key=key)
        off = base.with_overrides(auth="off")
        times: dict[str, list[float]] = {"off": [], "required": [], "off again": []}
        bearer = {"authorization": f"Bearer {key}"}
        async with client(required) as with_key, client(off) as without, client(off) as control:
            for http, headers in ((with_key, bearer), (without, {}), (control, {})):
                await per_request(http, headers, 50)  # warm up
            modes = [
                ("required", with_key, bearer),
                ("off", without, {}),
                ("off again", control, {}),
            ]
            for round_ in range(rounds):
                # each mode takes each place in the round in turn: the first batch after a
                # switch of app is slower (colder caches), whichever app it is
                shift = round_ % len(modes)
                for name, http, headers in modes[shift:] + modes[:shift]:
                    times[name].append(await per_request(http, headers, requests))
        hit, miss = await authenticator_cost(required, key, 20_000)
    off_ms = statistics.median(times["off"]) * 1000
    required_ms = statistics.median(times["required"]) * 1000
    cost = statistics.median(r - o for r, o in zip(times["required"], times["off"], strict=True))
    noise = statistics.median(a - o for a, o in zip(times["off again"], times["off"], strict=True))
    print(f"small query, {rounds} rounds x {requests} requests per mode, median CPU per request:")
    print(f"  --auth off        {off_ms:8.3f} ms")
    print(f"  --auth required   {required_ms:8.3f} ms   (ratio {required_ms / off_ms:.3f})")
    print(f"  auth costs        {cost * 1000:+8.3f} ms per request (paired; goal < 0.5 ms)")
    print(f"  noise floor       {noise * 1000:+8.3f} ms (a second --auth off app, same pairing)")
    print(f"authenticator alone, wall time per call (load average {os.getloadavg()[0]:.1f}):")
    print(f"  cached key        {hit * 1e6:8.1f} us")
    print(f"  stale cache (db)  {miss * 1e6:8.1f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=60)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.rounds))
