"""Helpers shared by the observability tests: the PromQL of the dashboards and rules, promtool.

Used by tests/grafana/ and tests/deploy/test_prometheus_rules.py. Expressions are checked with
Prometheus' own parser through `promtool check rules` (Debian's `prometheus` package, installed by
`deploy/local/stack up prometheus`), never with a home-made grammar.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

__all__ = [
    "REPO",
    "RULES_DIR",
    "GRAFANA_DIR",
    "DASHBOARD_DIR",
    "Expr",
    "promtool",
    "load_grafana_module",
    "dashboards",
    "dashboard_exprs",
    "rule_groups",
    "rule_exprs",
    "promql_for_prometheus",
    "parse_errors",
    "metric_names",
]

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "prometheus"
GRAFANA_DIR = REPO / "grafana"
DASHBOARD_DIR = GRAFANA_DIR / "dashboards"

# Grafana macros and the values a query gets in place of them (any valid duration would do).
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "30s", "$__range": "1h"}


@dataclass(frozen=True)
class Expr:
    where: str  # "dashboard <uid> / <panel title> / <refId>" or "rule <group> / <name>"
    expr: str


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: `apt-get install prometheus` (deploy/local/stack up prometheus installs it)"
        )
    return path


def load_grafana_module(name: str) -> ModuleType:
    """grafana/<name>.py, imported from its file (grafana/ is a folder of scripts, not a package)."""
    key = f"_hopsharbor_grafana_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, GRAFANA_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> parsed JSON of every committed dashboard."""
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(_panels(panel.get("panels", [])))  # collapsed rows hold their panels
    return out


def dashboard_exprs() -> list[Expr]:
    found = []
    for board in dashboards().values():
        for panel in _panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append(
                        Expr(
                            f"dashboard {board['uid']} / {panel['title']} / {target['refId']}", target["expr"]
                        )
                    )
    return found


def rule_groups() -> list[dict[str, Any]]:
    groups = []
    for path in sorted(RULES_DIR.glob("*.rules.yml")):
        groups.extend(yaml.safe_load(path.read_text())["groups"])
    return groups


def rule_exprs() -> list[Expr]:
    return [
        Expr(f"rule {group['name']} / {rule.get('alert') or rule.get('record')}", rule["expr"].strip())
        for group in rule_groups()
        for rule in group["rules"]
    ]


def promql_for_prometheus(expr: str) -> str:
    """The expression as Grafana sends it to Prometheus: macros replaced by durations."""
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    return expr


def _check(exprs: list[Expr]) -> subprocess.CompletedProcess[str]:
    rules = {
        "groups": [
            {
                "name": "parse-check",
                "rules": [
                    {"record": f"parse_check_{i}", "expr": promql_for_prometheus(e.expr)}
                    for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    with tempfile.NamedTemporaryFile("w", suffix=".rules.yml") as f:
        yaml.safe_dump(rules, f)
        f.flush()
        return subprocess.run(
            [promtool(), "check", "rules", f.name], capture_output=True, text=True, timeout=60
        )


def parse_errors(exprs: list[Expr]) -> list[str]:
    """Prometheus' parser on each expression, as recording rules of a temporary rule file.

    One promtool run for all; when it refuses the file, one run per expression names the culprits.
    """
    if not exprs or _check(exprs).returncode == 0:
        return []
    errors = []
    for e in exprs:
        result = _check([e])
        if result.returncode != 0:
            errors.append(f"{e.where}: {e.expr!r}: {(result.stderr or result.stdout).strip()}")
    return errors or [f"promtool refused the combined file: {_check(exprs).stderr}"]


# A metric name in PromQL: not part of a recording rule name (level:metric:ops) nor a label value.
_METRIC = re.compile(r'(?<![:\w"])(hopsharbor_[A-Za-z0-9_]+)(?![:\w"])')


def metric_names(expr: str) -> set[str]:
    """The hopsharbor_* series an expression reads (by name; label names never start so)."""
    return set(_METRIC.findall(expr))
