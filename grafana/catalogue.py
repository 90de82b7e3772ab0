"""The metrics catalogue: every hopsharbor metric, read from the metric declaration modules.

grafana/build.py writes it as a Markdown table into grafana/README.md (between the catalogue
markers), so the documented names, types and labels are the ones the code serves; the tests in
tests/grafana/ check that the committed table is current and that every metric a dashboard or a
Prometheus rule reads is in it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from prometheus_client.metrics import MetricWrapperBase

__all__ = ["Metric", "MODULES", "SUFFIXES", "collect", "markdown_table", "series_names"]

# (process, scrape job, module declaring its metrics). A module that does not exist yet is left out.
MODULES: tuple[tuple[str, str, str], ...] = (
    ("connector", "hopsharbor-connector", "connectors.metrics"),
    ("worker", "hopsharbor-worker", "streams.metrics"),
    ("worker", "hopsharbor-worker", "streams.images.metrics"),
)

# Series a metric family exposes, by type (the prometheus_client text format, without _created).
SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "enum": ("",),
}


@dataclass(frozen=True)
class Metric:
    process: str
    job: str
    module: str
    name: str  # as queried: counters with _total
    type: str
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()


def _declared(module_name: str) -> list[MetricWrapperBase]:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return []  # the module is not written yet
        raise
    return [value for value in vars(module).values() if isinstance(value, MetricWrapperBase)]


def collect() -> list[Metric]:
    """Every declared metric, in the order of MODULES then by name."""
    found: list[Metric] = []
    for process, job, module_name in MODULES:
        for m in sorted(_declared(module_name), key=lambda m: m._name):
            name = m._name + "_total" if m._type == "counter" else m._name
            buckets = tuple(getattr(m, "_upper_bounds", ()) or ())
            found.append(
                Metric(
                    process,
                    job,
                    module_name,
                    name,
                    str(m._type),
                    tuple(m._labelnames),
                    m._documentation,
                    buckets,
                )
            )
    return found


def series_names(metrics: list[Metric]) -> set[str]:
    """Every series name the metrics expose (histogram buckets, counter totals, ...)."""
    names: set[str] = set()
    for m in metrics:
        base = m.name.removesuffix("_total") if m.type == "counter" else m.name
        names.update(base + suffix for suffix in SUFFIXES.get(m.type, ("",)))
    return names


def _fmt_bucket(b: float) -> str:
    return "+Inf" if b == float("inf") else f"{b:g}"


def markdown_table(metrics: list[Metric]) -> str:
    lines = [
        "| metric | type | labels | process (job) | declared in | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for m in metrics:
        labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
        meaning = m.help.replace("|", "\\|")
        if m.buckets:
            meaning += " Buckets: " + ", ".join(_fmt_bucket(b) for b in m.buckets) + "."
        lines.append(
            f"| `{m.name}` | {m.type} | {labels} | {m.process} (`{m.job}`) | `{m.module}` | {meaning} |"
        )
    return "\n".join(lines) + "\n"
