"""What rate limiting, /metrics counting and the audit log cost per request (issue 12).

    python bench/ops_overhead.py [--requests 1500] [--rounds 3]

In one process, on a fresh SQLite file, through the real ASGI app (httpx's ASGI transport, no
sockets):

  * a small query (``datasets(first: 1)``) with the request rate limit on (a bucket that never
    runs dry) against the same app with it off; every request of both is counted by /metrics;
  * the per-request work of the limiter and the counters alone (bucket lookup among 10,000
    callers, principal lookup, one operation counted), as a share of that query's latency;
  * a small mutation (``createModel``) whose audit entry is written in its transaction, against
    the same mutation's unit of work in a stand-alone transaction with the entry skipped
    (``in_flight`` unset): the audit log's cost per mutation.

Rounds alternate the peers so machine noise hits both alike; compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sliceboard.app import create_app  # noqa: E402
from sliceboard.config import Settings  # noqa: E402
from sliceboard.metrics import Metrics  # noqa: E402
from sliceboard.principal import client_key, principal_of  # noqa: E402
from sliceboard.rate_limits import TokenBuckets  # noqa: E402
from sliceboard.services import catalog  # noqa: E402
from sliceboard.storage.migrate import upgrade_async  # noqa: E402

BATCH = 50
QUERY = {"query": "query Small { datasets(first: 1) { edges { cursor } } }"}


async def _latencies(client: httpx.AsyncClient, body: dict[str, str], n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.post("/graphql", json=body)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return times


def _component_seconds(n: int) -> tuple[float, float]:
    """The limiter's and the counters' work for one request, alone."""
    buckets = TokenBuckets(rate=1e9, burst=1e9, max_keys=10_000)
    metrics = Metrics()
    addresses = [f"10.0.{i // 256}.{i % 256}" for i in range(10_000)]
    scopes: list[dict[str, Any]] = [{"state": {}, "client": (a, 1)} for a in addresses]
    for scope in scopes:
        buckets.take(client_key(principal_of(scope), scope["client"][0]))
    started = time.perf_counter()
    for i in range(n):
        scope = scopes[i % len(scopes)]
        buckets.take(client_key(principal_of(scope), scope["client"][0]))
    limiter = (time.perf_counter() - started) / n
    started = time.perf_counter()
    for _ in range(n):
        metrics.observe_operation("Small", "query", 0.001, ())
    return limiter, (time.perf_counter() - started) / n


async def _mutation_seconds(app_runtime: object, n: int, audited: bool) -> float:
    from sliceboard.runtime import Runtime
    from sliceboard.services import audit

    assert isinstance(app_runtime, Runtime)
    started = time.perf_counter()
    for i in range(n):
        pending = audit.PendingEntry("createModel", None, None, audit.DatasetHint())
        token = audit.in_flight.set(pending if audited else None)
        try:
            async with app_runtime.unit_of_work() as session:
                await catalog.create_model(
                    session, name="m", reference_id=f"{audited}-{i}-{time.perf_counter_ns()}",
                    metadata=None,
                )  # fmt: skip
        finally:
            audit.in_flight.reset(token)
    return (time.perf_counter() - started) / n


async def main(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await upgrade_async(url)
        peers = {
            "limit on": Settings(database_url=url, run_jobs=False, rate_limit_per_second=1e9,
                                 rate_limit_burst=10**9),
            "limit off": Settings(database_url=url, run_jobs=False),
        }  # fmt: skip
        apps = {name: create_app(settings, migrate=False) for name, settings in peers.items()}
        results: dict[str, list[float]] = {name: [] for name in apps}
        audit_runs: dict[bool, list[float]] = {True: [], False: []}
        async with (
            apps["limit on"].router.lifespan_context(apps["limit on"]),
            apps["limit off"].router.lifespan_context(apps["limit off"]),
        ):
            clients = {
                name: httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://localhost"
                )
                for name, app in apps.items()
            }
            for client in clients.values():
                await _latencies(client, QUERY, 200)  # warm caches
            runtime = apps["limit off"].state.runtime
            for _ in range(rounds):
                for _batch in range(max(1, requests // BATCH)):  # interleaved in small batches
                    for name, client in clients.items():
                        results[name] += await _latencies(client, QUERY, BATCH)
                for audited in (True, False):
                    audit_runs[audited].append(await _mutation_seconds(runtime, 200, audited))
            for client in clients.values():
                await client.aclose()
    limiter, counters = _component_seconds(200_000)
    on, off = (statistics.median(results[name]) for name in ("limit on", "limit off"))
    print(f"small query, median of {requests * rounds} (machine busy: compare within the run)")
    print(f"  rate limit on   {on * 1e6:8.1f} us")
    print(f"  rate limit off  {off * 1e6:8.1f} us   ratio on/off {on / off:.3f}")
    print(f"alone, per request: limiter {limiter * 1e6:.2f} us, counters {counters * 1e6:.2f} us "
          f"= {(limiter + counters) / off:.2%} of the small query")  # fmt: skip
    with_entry, without = (statistics.median(audit_runs[flag]) for flag in (True, False))
    print(f"createModel unit of work: with audit entry {with_entry * 1e6:.0f} us, "
          f"without {without * 1e6:.0f} us, ratio {with_entry / without:.3f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.rounds))
