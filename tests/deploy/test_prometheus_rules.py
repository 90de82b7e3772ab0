"""Unit tests of deploy/prometheus/*.rules.yml with Prometheus' own tools: `promtool check rules`
(syntax, PromQL, templates) and `promtool test rules` (tests/deploy/prometheus_rules_test.yml:
each alert fires on a synthetic history, and the ones that must stay quiet do)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.grafana.promql import RULES_DIR, promtool, rule_groups

pytestmark = pytest.mark.unit

UNIT_TESTS = Path(__file__).resolve().parent / "prometheus_rules_test.yml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)


def test_rule_files_pass_promtool_check() -> None:
    files = sorted(str(p) for p in RULES_DIR.glob("*.rules.yml"))
    assert len(files) >= 2
    result = _run("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass() -> None:
    result = _run("test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_unit_tests_load_every_rule_file() -> None:
    listed = {(UNIT_TESTS.parent / f).resolve() for f in yaml.safe_load(UNIT_TESTS.read_text())["rule_files"]}
    assert listed == {p.resolve() for p in RULES_DIR.glob("*.rules.yml")}


def _alerts() -> dict[str, dict]:
    return {r["alert"]: r for g in rule_groups() for r in g["rules"] if "alert" in r}


def test_every_alert_has_a_unit_test_where_it_fires() -> None:
    fired = {
        case["alertname"]
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert set(_alerts()) - fired == set()


def test_the_alerts_the_issue_asks_for_exist() -> None:
    assert {
        "HopsharborConnectorDown",
        "HopsharborWorkerDown",  # connector or worker down
        "HopsharborCaptureLagHigh",
        "HopsharborConsumerLagHigh",  # lag above a threshold
        "HopsharborWorkerStalled",
        "HopsharborHeartbeatStale",  # no progress while lag > 0
        "HopsharborHarborErrorRatioHigh",
        "HopsharborReconcileErrorRatioHigh",  # error ratio
        "HopsharborDeadLettersGrowing",  # DLQ growth
    } <= set(_alerts())


@pytest.mark.parametrize("name", sorted(_alerts()))
def test_alert_says_how_bad_and_what_happened(name: str) -> None:
    rule = _alerts()[name]
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    assert rule["annotations"]["dashboard"] == "hopsharbor-overview"
    assert "for" in rule, "an alert without `for` pages on a single bad scrape"


def test_recording_rules_follow_level_metric_operations() -> None:
    records = [r["record"] for g in rule_groups() for r in g["rules"] if "record" in r]
    assert records
    for name in records:
        level, metric, ops = name.split(":")
        assert level and metric.startswith("hopsharbor_") and ops, name
