"""Prometheus of the local stack scrapes the worker's metrics port: an exporter started here on
127.0.0.1:$WORKER_METRICS_PORT shows up as target `hopsharbor-worker`, up, with our sample."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.conftest import Stack

pytestmark = pytest.mark.integration

WAIT_SECONDS = 20  # scrape interval is 1 s; a fresh target is picked up at the next scrape


def _query(client: httpx.Client, promql: str) -> list[dict]:
    resp = client.get("/api/v1/query", params={"query": promql})
    resp.raise_for_status()
    return resp.json()["data"]["result"]


@contextmanager
def _exporter(port: int, token: int) -> Iterator[bool]:
    """Serve gauge hopsharbor_smoke_probe=token on 127.0.0.1:port; yields False (and serves
    nothing) when the port is already taken, i.e. a real worker of `make run` is exporting there."""
    registry = CollectorRegistry()
    Gauge("hopsharbor_smoke_probe", "A value only this test knows.", registry=registry).set(token)
    try:
        server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_worker_exporter_is_scraped_and_up(stack: Stack) -> None:
    stack.require("prometheus")
    port = stack.port("worker_metrics")
    token = random.randint(1, 2**31)
    with _exporter(port, token) as ours, \
            httpx.Client(base_url=f"http://127.0.0.1:{stack.port('prometheus')}", timeout=5) as client:
        # Ours: wait for our own sample, which proves this very scrape. Not ours (a running worker
        # holds the port): that process is a real exporter too; wait for a scrape that found samples.
        selector = f'{{job="hopsharbor-worker",instance="127.0.0.1:{port}"}}'
        probe = (f"hopsharbor_smoke_probe{selector} == {token}" if ours
                 else f"scrape_samples_scraped{selector} > 0")
        deadline = time.monotonic() + WAIT_SECONDS
        target: dict = {}
        samples: list[dict] = []
        while time.monotonic() < deadline:
            resp = client.get("/api/v1/targets", params={"state": "active"})
            targets = resp.json()["data"]["activeTargets"]
            target = next((t for t in targets if t["labels"]["job"] == "hopsharbor-worker"), {})
            samples = _query(client, probe)
            if target.get("health") == "up" and samples:
                break
            time.sleep(0.5)
        assert target, "no hopsharbor-worker target in Prometheus' config"
        assert target["scrapeUrl"] == f"http://127.0.0.1:{port}/metrics"
        assert target["health"] == "up", target.get("lastError")
        assert len(samples) == 1, f"{probe!r} found nothing within {WAIT_SECONDS}s"
        up = _query(client, f"up{selector}")
        assert [s["value"][1] for s in up] == ["1"]
