"""Prometheus metrics of the connector (declarations only; served by connectors.http).

Label values are bounded: `table` is one of the configured tables, `op` one of c/u/d/r,
`kind` one of connectors.errors.ERROR_KINDS; the task initialises them all to 0 at start.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = [
    "REGISTRY",
    "EVENTS",
    "SKIPPED_EVENTS",
    "CAPTURE_LAG",
    "BINLOG_POSITION",
    "GTID_SEQUENCE",
    "SNAPSHOT_ROWS",
    "SNAPSHOT_PROGRESS",
    "SNAPSHOT_RUNNING",
    "ERRORS",
    "RECONNECTS",
    "OFFSET_COMMITS",
    "STREAMING",
]

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS = Counter(
    "hopsharbor_connector_events",
    "Change events published, by table and op (c/u/d/r)",
    ["table", "op"],
    registry=REGISTRY,
)
SKIPPED_EVENTS = Counter(
    "hopsharbor_connector_skipped_events",
    "Binlog rows events of tables that are not captured",
    registry=REGISTRY,
)
CAPTURE_LAG = Gauge(
    "hopsharbor_connector_capture_lag_seconds",
    "Now minus the commit time (source.ts_ms) of the last published event",
    registry=REGISTRY,
)
BINLOG_POSITION = Gauge(
    "hopsharbor_connector_binlog_position",
    "Offset in the binlog file (label) of the last stored offset",
    ["file"],
    registry=REGISTRY,
)
GTID_SEQUENCE = Gauge(
    "hopsharbor_connector_gtid_sequence",
    "Sequence number of the last stored GTID, per domain/source id",
    ["domain"],
    registry=REGISTRY,
)
SNAPSHOT_ROWS = Counter(
    "hopsharbor_connector_snapshot_rows",
    "Rows published by snapshots, by table",
    ["table"],
    registry=REGISTRY,
)
SNAPSHOT_PROGRESS = Gauge(
    "hopsharbor_connector_snapshot_progress_ratio",
    "Snapshot progress per table: rows published / estimated rows (0..1)",
    ["table"],
    registry=REGISTRY,
)
SNAPSHOT_RUNNING = Gauge(
    "hopsharbor_connector_snapshot_running", "1 while a snapshot is running", registry=REGISTRY
)
HEARTBEAT_TIMESTAMP = Gauge(
    "hopsharbor_heartbeat_timestamp_seconds",
    "Unix time of the newest pipeline heartbeat the connector published to Kafka",
    registry=REGISTRY,
)
STREAMING = Gauge("hopsharbor_connector_streaming", "1 while reading the binlog", registry=REGISTRY)
ERRORS = Counter(
    "hopsharbor_connector_errors",
    "Errors by kind (mysql, kafka, purged, config, ...)",
    ["kind"],
    registry=REGISTRY,
)
RECONNECTS = Counter(
    "hopsharbor_connector_reconnects", "Restarts of the source after a retriable error", registry=REGISTRY
)
OFFSET_COMMITS = Counter(
    "hopsharbor_connector_offset_commits", "Offsets stored after a flush", registry=REGISTRY
)
