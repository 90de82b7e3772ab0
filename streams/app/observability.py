"""Metrics wiring of the worker: label initialisation, the Harbor-call observer, consumer lag,
and the /metrics and /healthz pages on the worker's web port (9402).

The metric objects themselves are declared in streams/metrics.py.
"""

from __future__ import annotations

from collections.abc import Iterable

import faust
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from streams import metrics

__all__ = ["HarborMetrics", "init_metrics", "register_lag", "register_pages", "sample_lag"]


def init_metrics() -> None:
    """Create every known label combination at 0 (called once when the worker is built)."""
    for table in metrics.EVENT_TABLES:
        for op in metrics.EVENT_OPS:
            metrics.WORKER_EVENTS.labels(table, op)
    for kind in metrics.RECONCILE_KINDS:
        for result in metrics.RECONCILE_RESULTS:
            metrics.RECONCILES.labels(kind, result)
    for resource in metrics.DRIFT_RESOURCES:
        metrics.DRIFT_CORRECTIONS.labels(resource)
    for reason in metrics.DLQ_REASONS:
        metrics.DLQ_RECORDS.labels(reason)


class HarborMetrics:
    """The HarborCallObserver given to streams.harbor.HarborClient: one call per HTTP exchange."""

    def observe(self, method: str, route: str, status: int | str, seconds: float) -> None:
        metrics.HARBOR_REQUESTS.labels(method, route, str(status)).inc()
        metrics.HARBOR_REQUEST_DURATION.labels(method, route).observe(seconds)


def sample_lag(app: faust.App, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """Set hopsharbor_consumer_lag for the assigned partitions of `topics`; returns what was set.

    End offset: the high-water mark the consumer last fetched; committed: Faust's own record of
    the offset it committed (`Consumer._committed_offset`, not public API; None before the first
    commit of a new group, when the lag is the whole partition).
    """
    consumer = app.consumer
    wanted = set(topics)
    committed_offsets = getattr(consumer, "_committed_offset", {})
    lags: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        if tp.topic not in wanted:
            continue
        try:
            end = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - no fetch yet for this partition
            continue
        if end is None:
            continue
        committed = committed_offsets.get(tp) or 0
        lag = max(0, int(end) - int(committed))
        metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)
        lags[(tp.topic, tp.partition)] = lag
    return lags


def register_lag(app: faust.App, topics: Iterable[str], interval: float) -> None:
    names = tuple(topics)

    async def lag() -> None:
        sample_lag(app, names)

    app.timer(interval, name="hopsharbor.consumer-lag")(lag)


def register_pages(app: faust.App) -> None:
    """/metrics (Prometheus text format) and /healthz (200 once the worker runs, 503 otherwise)."""

    @app.page("/metrics")
    async def metrics_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        # aiohttp refuses a charset inside content_type=, so the full value goes in as a header
        return web.bytes(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        crashed = bool(getattr(app, "crash_reason", None))
        ok = app.started and not crashed
        body = {"status": "ok" if ok else "unavailable", "rebalancing": bool(app.rebalancing)}
        return web.json(body, status=200 if ok else 503)
