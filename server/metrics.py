"""Prometheus metrics of one app: counters moved by requests and jobs, and gauges sampled when
/metrics is scraped.

Each Runtime has its own registry (two apps in one process count apart). The request path
pays a counter increment and a histogram observation per operation; everything that needs a
look at the machinery (pool, workers, caches) is read only at scrape time.

Operation names come from clients, so the label is bounded: the first
``Settings.metrics_max_operations`` distinct names are kept, later ones count as ``other``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

ANONYMOUS = "anonymous"
OTHER = "other"
MAX_NAME_CHARS = 100
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)

Sampler = Callable[[], Iterable[Metric]]


class _Sampled(Collector):
    """Metric families computed at scrape time by the samplers handed to ``Metrics.sample``."""

    def __init__(self) -> None:
        self.samplers: list[Sampler] = []

    def collect(self) -> Iterator[Metric]:
        for sampler in self.samplers:
            yield from sampler()


class Metrics:
    def __init__(self, *, max_operations: int = 200) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.max_operations = max_operations
        self._operations: set[str] = set()
        # (name, type) -> its counter and histogram children: skips ``labels()`` per request
        self._children: dict[tuple[str | None, str], tuple[Any, Any]] = {}
        registry = self.registry
        self._requests = Counter(
            "sliceboard_graphql_requests",
            "GraphQL operations by operation name and type.",
            ["operation", "type"],
            registry=registry,
        )
        self._latency = Histogram(
            "sliceboard_graphql_request_duration_seconds",
            "Time to answer a GraphQL query or mutation, by operation name.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._errors = Counter(
            "sliceboard_graphql_errors",
            "GraphQL errors by code: top-level errors and the error payloads of mutations.",
            ["code"],
            registry=registry,
        )
        self._limited = Counter(
            "sliceboard_rate_limited",
            "Requests refused by a rate limit (requests: HTTP 429; evaluations: payload).",
            ["limit"],
            registry=registry,
        )
        self._jobs = Histogram(
            "sliceboard_job_duration_seconds",
            "Duration of job attempts run by this process, by kind and outcome.",
            ["kind", "outcome"],
            buckets=JOB_BUCKETS,
            registry=registry,
        )
        self.queue = Gauge(
            "sliceboard_jobs",
            "Jobs by status, in the database (every process), sampled at scrape time.",
            ["status"],
            registry=registry,
        )
        self.job_workers_busy = Gauge(
            "sliceboard_job_workers_busy",
            "Job runners (any process) holding a live lease on a running job.",
            registry=registry,
        )
        self._sampled = _Sampled()
        registry.register(self._sampled)

    def operation(self, name: str | None) -> str:
        """The label of an operation name: bounded in length and in distinct values."""
        if not name:
            return ANONYMOUS
        name = name[:MAX_NAME_CHARS]
        if name in self._operations:
            return name
        if len(self._operations) >= self.max_operations:
            return OTHER
        self._operations.add(name)
        return name

    def observe_operation(
        self, name: str | None, kind: str, seconds: float | None, error_codes: Iterable[str]
    ) -> None:
        """One GraphQL operation ended (``seconds`` None for subscriptions: they last)."""
        children = self._children.get((name, kind))
        if children is None:
            label = self.operation(name)
            children = (self._requests.labels(label, kind), self._latency.labels(label))
            if label != OTHER:  # at most max_operations x types entries
                self._children[(name, kind)] = children
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)
        for code in error_codes:
            self._errors.labels(code).inc()

    def error(self, code: str) -> None:
        self._errors.labels(code).inc()

    def rate_limited(self, limit: str) -> None:
        self._limited.labels(limit).inc()

    def job_finished(self, kind: str, outcome: str, seconds: float) -> None:
        self._jobs.labels(kind, outcome).observe(seconds)

    def sample(self, sampler: Sampler) -> None:
        """Adds families computed at each scrape (gauges of the pool, workers, caches)."""
        self._sampled.samplers.append(sampler)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


def gauge(name: str, documentation: str, values: dict[str, float], label: str) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value_label, value in values.items():
        family.add_metric([value_label], value)
    return family


def single_gauge(name: str, documentation: str, value: float) -> Metric:
    return GaugeMetricFamily(name, documentation, value=value)


def counter(name: str, documentation: str, values: dict[str, float], label: str) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value_label, value in values.items():
        family.add_metric([value_label], value)
    return family
