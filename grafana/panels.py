"""What the hopsharbor dashboards show: rows of panels and their PromQL. Declarations only.

grafana/build.py turns these into Grafana JSON. Jobs are the scrape job names: the connector is
`hopsharbor-connector` (port 9401), the worker `hopsharbor-worker` (port 9402). `$__rate_interval`
is Grafana's macro for a rate window of at least four scrapes (tests/grafana/ replaces it before
handing an expression to the Prometheus parser). The metric names are listed in grafana/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Target", "PanelSpec", "RowSpec", "OVERVIEW", "CONNECTOR", "WORKER"]

CONNECTOR = 'job="hopsharbor-connector"'
WORKER = 'job="hopsharbor-worker"'
HOPSHARBOR = 'job=~"hopsharbor-.*"'


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = "__auto"


@dataclass(frozen=True)
class PanelSpec:
    title: str
    description: str
    targets: tuple[Target, ...]
    unit: str = "short"
    kind: Literal["timeseries", "stat"] = "timeseries"
    width: int = 8
    height: int = 8
    stacked: bool = False
    up_down: bool = False  # stat panel showing 1/0 as UP/DOWN
    thresholds: tuple[tuple[float | None, str], ...] = field(default=())


@dataclass(frozen=True)
class RowSpec:
    title: str
    panels: tuple[PanelSpec, ...]


def _rate(metric: str, selector: str, by: str) -> str:
    """Per-second rate of a counter, summed over instances by the `by` labels."""
    return f"sum by ({by}) (rate({metric}{{{selector}}}[$__rate_interval]))"


def _increase(metric: str, selector: str, by: str) -> str:
    """Increase of a counter over the rate window, summed over instances by the `by` labels."""
    return f"sum by ({by}) (increase({metric}{{{selector}}}[$__rate_interval]))"


def _quantiles(metric: str, by: str = "") -> tuple[Target, ...]:
    """p50/p95/p99 of a histogram, summed over instances (and `by` labels when given)."""
    labels = f"{by}, le" if by else "le"
    prefix = "{{" + by + "}} " if by else ""
    return tuple(
        Target(
            f"histogram_quantile({q}, sum by ({labels}) (rate({metric}_bucket[$__rate_interval])))",
            f"{prefix}p{round(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    )


HEALTH = RowSpec(
    "Process health",
    (
        PanelSpec(
            "Connector",
            "Is Prometheus able to scrape the binlog connector (port 9401)?",
            (Target(f"min(up{{{CONNECTOR}}})", "connector"),),
            kind="stat",
            width=4,
            height=5,
            up_down=True,
            thresholds=((None, "red"), (1, "green")),
        ),
        PanelSpec(
            "Worker",
            "Is Prometheus able to scrape the stream worker (port 9402)?",
            (Target(f"min(up{{{WORKER}}})", "worker"),),
            kind="stat",
            width=4,
            height=5,
            up_down=True,
            thresholds=((None, "red"), (1, "green")),
        ),
        PanelSpec(
            "Heartbeat age",
            "Seconds since the last pipeline heartbeat: written by the connector, seen by the worker. "
            "It keeps "
            "flowing while Hopsworks is idle, so a growing age means a stall, not a quiet database.",
            (
                Target(
                    f"time() - max by (job) (hopsharbor_heartbeat_timestamp_seconds{{{HOPSHARBOR}}})",
                    "{{job}}",
                ),
            ),
            unit="s",
            width=8,
            height=5,
            thresholds=((None, "green"), (120, "orange"), (300, "red")),
        ),
        PanelSpec(
            "Restarts and reconnects",
            "Process restarts (start time changes) and connector reconnects to MySQL.",
            (
                Target(
                    f"changes(process_start_time_seconds{{{HOPSHARBOR}}}[$__rate_interval])",
                    "{{job}} restarts",
                ),
                Target(
                    f"sum(increase(hopsharbor_connector_reconnects_total{{{CONNECTOR}}}[$__rate_interval]))",
                    "connector reconnects",
                ),
            ),
            width=8,
            height=5,
        ),
    ),
)

CAPTURE = RowSpec(
    "Capture: MySQL binlog -> Kafka (connector)",
    (
        PanelSpec(
            "Capture lag",
            "Commit time in MySQL to publication on Kafka, for the last event captured.",
            (
                Target(
                    f"max by (instance) (hopsharbor_connector_capture_lag_seconds{{{CONNECTOR}}})",
                    "{{instance}}",
                ),
            ),
            unit="s",
            thresholds=((None, "green"), (60, "red")),
        ),
        PanelSpec(
            "Events captured by table and operation",
            "Change events published per second (c create, u update, d delete, r snapshot read).",
            (
                Target(
                    _rate("hopsharbor_connector_events_total", CONNECTOR, by="table, op"),
                    "{{table}} {{op}}",
                ),
            ),
            unit="ops",
            stacked=True,
        ),
        PanelSpec(
            "Connector errors by kind",
            "Errors of the connector, by kind; each is followed by a reconnect or a restart.",
            (
                Target(
                    _increase("hopsharbor_connector_errors_total", CONNECTOR, by="kind"),
                    "{{kind}}",
                ),
            ),
            stacked=True,
        ),
        PanelSpec(
            "Snapshot rows",
            "Rows published per second by the initial (or a new) snapshot, by table.",
            (
                Target(
                    _rate("hopsharbor_connector_snapshot_rows_total", CONNECTOR, by="table"),
                    "{{table}}",
                ),
            ),
            unit="rowsps",
            stacked=True,
        ),
        PanelSpec(
            "Snapshot progress and state",
            "Share of each table's estimated rows already snapshotted; 1 while a snapshot runs or while the "
            "binlog is being streamed.",
            (
                Target(
                    f"max by (table) (hopsharbor_connector_snapshot_progress_ratio{{{CONNECTOR}}})",
                    "{{table}}",
                ),
                Target(f"max(hopsharbor_connector_snapshot_running{{{CONNECTOR}}})", "snapshot running"),
                Target(f"max(hopsharbor_connector_streaming{{{CONNECTOR}}})", "streaming"),
            ),
            unit="percentunit",
        ),
        PanelSpec(
            "Binlog position",
            "Offset in the binlog file of the last stored connector offset: a flat line while MySQL writes "
            "means capture stopped.",
            (
                Target(
                    f"max by (instance, file) (hopsharbor_connector_binlog_position{{{CONNECTOR}}})",
                    "{{instance}} {{file}}",
                ),
            ),
            unit="decbytes",
        ),
    ),
)

CONSUME = RowSpec(
    "Consume and reconcile: Kafka -> Harbor (worker)",
    (
        PanelSpec(
            "Consumer lag by partition",
            "Records on each topic partition that the worker has not processed yet.",
            (
                Target(
                    f"sum by (topic, partition) (hopsharbor_consumer_lag{{{WORKER}}})",
                    "{{topic}}[{{partition}}]",
                ),
            ),
            stacked=True,
        ),
        PanelSpec(
            "End-to-end latency",
            "From the commit in MySQL to the end of the Harbor reconcile it caused.",
            _quantiles("hopsharbor_end_to_end_latency_seconds"),
            unit="s",
        ),
        PanelSpec(
            "Events consumed by table and operation",
            "Change events the worker processed per second.",
            (
                Target(
                    _rate("hopsharbor_worker_events_total", WORKER, by="table, op"),
                    "{{table}} {{op}}",
                ),
            ),
            unit="ops",
            stacked=True,
        ),
        PanelSpec(
            "Reconciles by result",
            "Reconciles per second by outcome: done, requeue, retriable (backing off), "
            "terminal (dead-lettered), "
            "skipped (same desired state as the last terminal failure).",
            (
                Target(
                    _rate("hopsharbor_reconciles_total", WORKER, by="result"),
                    "{{result}}",
                ),
            ),
            unit="ops",
            stacked=True,
        ),
        PanelSpec(
            "Reconciles by kind",
            "Reconciles per second by Harbor resource kind.",
            (
                Target(
                    _rate("hopsharbor_reconciles_total", WORKER, by="kind"),
                    "{{kind}}",
                ),
            ),
            unit="ops",
            stacked=True,
        ),
        PanelSpec(
            "Dead letters",
            "Records sent to the dead-letter topic, by reason: they are not retried until their "
            "desired state "
            "changes. Any growth deserves a look at the DLQ topic.",
            (
                Target(
                    _increase("hopsharbor_dlq_records_total", WORKER, by="reason"),
                    "{{reason}}",
                ),
                Target(f"sum(hopsharbor_dlq_records_total{{{WORKER}}})", "total since start"),
            ),
            thresholds=((None, "green"), (1, "red")),
        ),
    ),
)

HARBOR = RowSpec(
    "Harbor API",
    (
        PanelSpec(
            "Harbor calls by status",
            "HTTP calls to Harbor per second by status code (`error`: no response).",
            (
                Target(
                    _rate("hopsharbor_harbor_requests_total", WORKER, by="status"),
                    "{{status}}",
                ),
            ),
            unit="reqps",
            stacked=True,
        ),
        PanelSpec(
            "Harbor errors by route and status",
            "Calls that did not succeed (any status but 2xx), by route: 401/403 mean the account lost its "
            "rights, 5xx/429 that Harbor is unhealthy, 404/409 are usually part of normal reconciling.",
            (
                Target(
                    f"sum by (method, route, status) "
                    f'(rate(hopsharbor_harbor_requests_total{{{WORKER}, status!~"2.."}}'
                    "[$__rate_interval]))",
                    "{{method}} {{route}} {{status}}",
                ),
            ),
            unit="reqps",
        ),
        PanelSpec(
            "Harbor call latency",
            "Duration of Harbor calls (each retry counted alone).",
            _quantiles("hopsharbor_harbor_request_duration_seconds"),
            unit="s",
        ),
        PanelSpec(
            "Drift corrections",
            "Differences between Harbor and the desired state found and fixed by the periodic resync, by "
            "resource: someone or something changed Harbor behind hopsharbor's back.",
            (
                Target(
                    _increase("hopsharbor_drift_corrections_total", WORKER, by="resource"),
                    "{{resource}}",
                ),
            ),
            stacked=True,
            width=16,
        ),
    ),
)

IMAGES = RowSpec(
    "Python environment images",
    (
        PanelSpec(
            "Build duration",
            "Time to build one environment image (docker build FROM the current image + the library change).",
            _quantiles("hopsharbor_image_build_duration_seconds"),
            unit="s",
        ),
        PanelSpec(
            "Push duration",
            "Time to push one built image to the project's Harbor repository.",
            _quantiles("hopsharbor_image_push_duration_seconds"),
            unit="s",
        ),
        PanelSpec(
            "Builds by result",
            "Library changes handled, by result: built (and pushed), exists (tag already pushed: a replay), "
            "skipped (image already past this change), failed (dead-lettered).",
            (
                Target(
                    _increase("hopsharbor_image_builds_total", WORKER, by="result"),
                    "{{result}}",
                ),
            ),
            stacked=True,
        ),
        PanelSpec(
            "Build failures by reason",
            "Library changes the image pipeline dead-lettered, by reason.",
            (
                Target(
                    _increase("hopsharbor_image_build_failures_total", WORKER, by="reason"),
                    "{{reason}}",
                ),
            ),
            stacked=True,
            thresholds=((None, "green"), (1, "red")),
        ),
        PanelSpec(
            "Pushed bytes",
            "Bytes of image layers pushed to Harbor per second.",
            (
                Target(
                    f"sum(rate(hopsharbor_image_pushed_bytes_total{{{WORKER}}}[$__rate_interval]))", "pushed"
                ),
            ),
            unit="Bps",
        ),
        PanelSpec(
            "Build queue",
            "Library changes waiting for their image build.",
            (Target(f"sum(hopsharbor_image_build_queue_depth{{{WORKER}}})", "waiting"),),
        ),
    ),
)

OVERVIEW: tuple[RowSpec, ...] = (HEALTH, CAPTURE, CONSUME, HARBOR, IMAGES)
