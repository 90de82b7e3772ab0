"""Unit tests of grafana/: generated files are current, dashboards are provisionable as they are,
every PromQL expression parses, and every metric read by a dashboard or a rule is declared in code."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.grafana.promql import (
    DASHBOARD_DIR,
    GRAFANA_DIR,
    Expr,
    dashboard_exprs,
    dashboards,
    load_grafana_module,
    metric_names,
    parse_errors,
    rule_exprs,
)

pytestmark = pytest.mark.unit

DATASOURCE_UID = "hopsharbor-prometheus"
EXPECTED_UIDS = {"hopsharbor-overview.json": "hopsharbor-overview"}

# Read by a dashboard or rule but not declared yet by the code (the issues implementing them are
# open). Each is an expected failure with its reason; remove the entry when the metric lands.
PENDING: dict[str, str] = {}


def test_committed_files_equal_what_build_py_generates() -> None:
    build = load_grafana_module("build")
    stale = [
        str(path.relative_to(GRAFANA_DIR))
        for path, text in build.build_all().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"out of date, run `.venv/bin/python grafana/build.py` and commit: {stale}"
    assert {p.name for p in DASHBOARD_DIR.glob("*.json")} == set(build.DASHBOARDS)


def test_dashboards_have_their_stable_uid() -> None:
    assert {name: board["uid"] for name, board in dashboards().items()} == EXPECTED_UIDS


def _walk(node: Any, path: str = "$"):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_dashboard_needs_no_import_inputs_and_names_the_datasource_by_its_fixed_uid(name: str) -> None:
    board = dashboards()[name]
    assert "__inputs" not in board and "__requires" not in board
    refs = [
        (path, node["datasource"])
        for path, node in _walk(board)
        if isinstance(node, dict) and "datasource" in node
    ]
    assert refs, "no datasource reference at all"
    wrong = [(path, ref) for path, ref in refs if ref != {"type": "prometheus", "uid": DATASOURCE_UID}]
    assert not wrong
    assert not [path for path, node in _walk(board) if isinstance(node, str) and "${DS_" in node]


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_panels_have_unique_ids_and_fit_the_grid(name: str) -> None:
    panels = dashboards()[name]["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for p in panels:
        grid = p["gridPos"]
        assert grid["x"] + grid["w"] <= 24, p["title"]
        if p["type"] != "row":
            assert p["targets"], f"panel {p['title']!r} has no query"
            assert p.get("description"), f"panel {p['title']!r} says nothing of what it shows"


def test_dashboard_covers_the_panels_the_issue_asks_for() -> None:
    exprs = " ".join(e.expr for e in dashboard_exprs())
    for needed in (
        "hopsharbor_connector_capture_lag_seconds",
        "hopsharbor_consumer_lag",
        "sum by (topic, partition)",
        "hopsharbor_end_to_end_latency_seconds_bucket",
        "hopsharbor_worker_events_total",
        "sum by (result) (rate(hopsharbor_reconciles_total",
        "sum by (status) (rate(hopsharbor_harbor_requests_total",
        "hopsharbor_dlq_records_total",
        "hopsharbor_drift_corrections_total",
        "hopsharbor_image_build_duration_seconds_bucket",
        "hopsharbor_image_builds_total",
        'up{job="hopsharbor-',
    ):
        assert needed in exprs, needed


def test_every_dashboard_expression_parses() -> None:
    exprs = dashboard_exprs()
    assert len(exprs) > 20
    assert parse_errors(exprs) == []


def test_the_parse_check_rejects_a_broken_expression() -> None:
    broken = Expr("test", "sum by (job) (rate(hopsharbor_worker_events_total[$__rate_interval])")
    assert len(parse_errors([Expr("ok", "up"), broken])) == 1


def _declared_series() -> set[str]:
    catalogue = load_grafana_module("catalogue")
    return catalogue.series_names(catalogue.collect())


def _read_metrics() -> list[str]:
    return sorted({name for e in dashboard_exprs() + rule_exprs() for name in metric_names(e.expr)})


@pytest.mark.parametrize(
    "metric",
    [
        pytest.param(m, marks=pytest.mark.xfail(reason=PENDING[m])) if m in PENDING else m
        for m in _read_metrics()
    ],
)
def test_metric_read_by_dashboards_or_rules_is_declared_in_code(metric: str) -> None:
    assert metric in _declared_series(), f"{metric} is queried but no metric module declares it"


def test_metric_names_follow_the_conventions() -> None:
    catalogue = load_grafana_module("catalogue")
    metrics = catalogue.collect()
    assert {m.module for m in metrics} >= {"connectors.metrics", "streams.metrics"}
    for m in metrics:
        assert m.name.startswith("hopsharbor_"), m.name
        assert (m.type == "counter") == m.name.endswith("_total"), m.name
        if m.type in ("histogram", "summary"):
            assert m.name.endswith(("_seconds", "_bytes")), m.name
        assert m.help, f"{m.name} has no help text"


def test_provisioning_points_at_the_dashboards_datasource() -> None:
    ds = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "hopsharbor-prometheus.yml").read_text()
    )
    assert [(d["uid"], d["type"]) for d in ds["datasources"]] == [(DATASOURCE_UID, "prometheus")]
    assert load_grafana_module("build").DATASOURCE_UID == DATASOURCE_UID
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "hopsharbor.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_dashboard_json_is_a_valid_grafana_dashboard_model(name: str) -> None:
    """Decoded by the SDK's typed model (Grafana's dashboard schema) and re-encoded, nothing is lost:
    no unknown field, no panel type or query the schema does not know."""
    import json

    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    register_default_plugins()
    raw = dashboards()[name]
    assert json.loads(json.dumps(Dashboard.from_json(raw), cls=JSONEncoder)) == raw
