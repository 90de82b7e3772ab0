"""Prometheus metrics of the worker (served on :9402 at /metrics). Declarations only.

Every label set is bounded; the known label values are listed here and initialised to 0 when the
worker starts (streams.app.observability.init_metrics), so a rate() never starts from nothing.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from streams.mapping.events import CDC_TABLES, OPS, MalformedEvent

__all__ = [
    "CONSUMER_LAG",
    "DLQ_RECORDS",
    "DLQ_REASONS",
    "DRIFT_CORRECTIONS",
    "DRIFT_RESOURCES",
    "END_TO_END_LATENCY",
    "EVENT_OPS",
    "EVENT_TABLES",
    "HARBOR_REQUESTS",
    "HARBOR_REQUEST_DURATION",
    "RECONCILES",
    "RECONCILE_KINDS",
    "RECONCILE_RESULTS",
    "WORKER_EVENTS",
]

EVENT_TABLES: tuple[str, ...] = CDC_TABLES
EVENT_OPS: tuple[str, ...] = (*OPS, "tombstone", "malformed")
RECONCILE_KINDS: tuple[str, ...] = ("user", "project")
# done: Harbor matches; requeue: asked to come back later; retriable: Harbor down or failing (backing
# off); terminal: dead-lettered; skipped: same desired state as the last terminal failure.
RECONCILE_RESULTS: tuple[str, ...] = ("done", "requeue", "retriable", "terminal", "skipped")
DRIFT_RESOURCES: tuple[str, ...] = (
    "user",
    "project",
    "quota",
    "member",
    "robot",
    "robot_secret",
    "immutable_rule",
    "repository",
)
DLQ_REASONS: tuple[str, ...] = (
    *MalformedEvent.REASONS,
    "bad_request",
    "bad_name",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "precondition_failed",
    "unprocessable",
    "client_error",
    "foreign_project",
    "bad_response",
    "internal",
)

WORKER_EVENTS = Counter(
    "hopsharbor_worker_events", "Change events consumed from the CDC topics.", ["table", "op"]
)
RECONCILES = Counter(
    "hopsharbor_reconciles", "Reconciles of one key, by resource kind and result.", ["kind", "result"]
)
HARBOR_REQUESTS = Counter(
    "hopsharbor_harbor_requests",
    "HTTP requests to Harbor (each retry counts).",
    ["method", "route", "status"],
)
HARBOR_REQUEST_DURATION = Histogram(
    "hopsharbor_harbor_request_duration_seconds",
    "Duration of one HTTP request to Harbor.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DRIFT_CORRECTIONS = Counter(
    "hopsharbor_drift_corrections",
    "Changes a resync had to make although the desired state had not changed (Harbor drifted).",
    ["resource"],
)
DLQ_RECORDS = Counter("hopsharbor_dlq_records", "Records sent to the dead-letter topic.", ["reason"])
CONSUMER_LAG = Gauge(
    "hopsharbor_consumer_lag",
    "End offset minus committed offset, per input partition.",
    ["topic", "partition"],
)
HEARTBEAT_TIMESTAMP = Gauge(
    "hopsharbor_heartbeat_timestamp_seconds",
    "Connector time (unix seconds) of the newest pipeline heartbeat the worker consumed.",
)
END_TO_END_LATENCY = Histogram(
    "hopsharbor_end_to_end_latency_seconds",
    "From the database commit (source.ts_ms) to the Harbor change it caused.",
    buckets=(0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
