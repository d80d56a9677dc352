"""Prometheus metrics, served at ``GET /metrics``.

mod_xml_curl lookups are counted on the hot path without locks or allocations: each process owns
one row of float64 counters (plain memory, or its row of the file shared with the xml_curl worker
processes), and the collector sums the rows when Prometheus scrapes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

# Seconds. A cache hit takes well under a millisecond; a miss a few; the timeout is seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
_REFUSED = (401, 403)
# After the lookup counters and the histogram (one count per bucket, +Inf, then the sum).
_HITS, _MISSES, _REFUSED_401, _REFUSED_403, _ENTRIES, _BYTES = range(6)


def row_size(kinds: Sequence[str], outcomes: Sequence[str]) -> int:
    """How many float64 one process's row of lookup counters takes."""
    return len(kinds) * len(outcomes) + len(LATENCY_BUCKETS) + 2 + 6


class LookupMetrics:
    """One process's counters of mod_xml_curl lookups, in a row of float64."""

    def __init__(self, kinds: Sequence[str], outcomes: Sequence[str], row: memoryview[float] | None = None) -> None:
        size = row_size(kinds, outcomes)
        self.row = row if row is not None else memoryview(bytearray(size * 8)).cast("d")
        if len(self.row) != size:
            raise ValueError(f"a row of {size} counters is needed, got {len(self.row)}")
        self._outcomes = len(outcomes)
        self._histogram = len(kinds) * len(outcomes)
        self._sum = self._histogram + len(LATENCY_BUCKETS) + 1
        self._tail = self._sum + 1

    def lookup(self, kind: int, outcome: int, seconds: float) -> None:
        row = self.row
        row[kind * self._outcomes + outcome] += 1
        row[self._histogram + bisect_left(LATENCY_BUCKETS, seconds)] += 1
        row[self._sum] += seconds

    def cache_hit(self) -> None:
        self.row[self._tail + _HITS] += 1

    def cache_miss(self) -> None:
        self.row[self._tail + _MISSES] += 1

    def refused(self, status: int) -> None:
        self.row[self._tail + (_REFUSED_401 if status == 401 else _REFUSED_403)] += 1

    def cache_size(self, entries: int, size: int) -> None:
        self.row[self._tail + _ENTRIES] = entries
        self.row[self._tail + _BYTES] = size


class LookupCollector(Collector):
    """Sums the rows of every process serving lookups into Prometheus metric families."""

    def __init__(
        self, kinds: Sequence[str], outcomes: Sequence[str], rows: Callable[[], Iterable[memoryview[float]]]
    ) -> None:
        self._kinds = tuple(kinds)
        self._outcomes = tuple(outcomes)
        self._rows = rows

    def collect(self) -> Iterable[Metric]:
        total = [0.0] * row_size(self._kinds, self._outcomes)
        for row in self._rows():
            for index, value in enumerate(row):
                total[index] += value
        lookups = CounterMetricFamily(
            "fsdir_xmlcurl_lookups", "mod_xml_curl requests answered, by kind and outcome.", labels=["kind", "outcome"]
        )
        for k, kind in enumerate(self._kinds):
            for o, outcome in enumerate(self._outcomes):
                lookups.add_metric([kind, outcome], total[k * len(self._outcomes) + o])
        yield lookups
        start = len(self._kinds) * len(self._outcomes)
        cumulative = 0.0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), total[start:], strict=False):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        tail = start + len(LATENCY_BUCKETS) + 2
        yield HistogramMetricFamily(
            "fsdir_xmlcurl_lookup_seconds",
            "Time to answer a mod_xml_curl request, from the complete request to the answer.",
            buckets=buckets,
            sum_value=total[tail - 1],
        )
        yield CounterMetricFamily("fsdir_xmlcurl_cache_hits", "Answers served from the document cache.", total[tail])
        yield CounterMetricFamily(
            "fsdir_xmlcurl_cache_misses", "Answers read from the database.", total[tail + _MISSES]
        )
        refused = CounterMetricFamily(
            "fsdir_xmlcurl_refused", "Requests refused: 401 bad credentials, 403 address.", labels=["status"]
        )
        for status, offset in zip(_REFUSED, (_REFUSED_401, _REFUSED_403), strict=True):
            refused.add_metric([str(status)], total[tail + offset])
        yield refused
        yield GaugeMetricFamily("fsdir_xmlcurl_cache_entries", "Documents held in the caches.", total[tail + _ENTRIES])
        yield GaugeMetricFamily(
            "fsdir_xmlcurl_cache_bytes", "Estimated memory held by the caches.", total[tail + _BYTES]
        )


def new_registry() -> CollectorRegistry:
    """A registry of its own per application (tests build many), with the process metrics."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


async def metrics_endpoint(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")
