"""End to end: the local Prometheus scrapes the real connector and worker, and every expression of
the dashboards and of deploy/prometheus/*.rules.yml returns data.

The stack's Prometheus (127.0.0.1:19090, `deploy/local/stack up prometheus`) scrapes 127.0.0.1:9401
(job hopsharbor-connector) and 127.0.0.1:9402 (job hopsharbor-worker) every second and loads the
rule files of the checkout. This module starts `hopsharbor connector run` and `hopsharbor worker`
as subprocesses on those ports, against a fresh Hopsworks database and a fresh topic prefix, runs
a small Hopsworks workload, and writes one malformed record to a CDC topic (so the dead-letter and
error series exist). Then, for each expression:

- dashboard and recording-rule expressions must return at least one sample;
- alert expressions are conditions (empty while all is well), so each series they read must
  return live samples, and Prometheus must report every rule healthy.

When another connector or worker already holds 9401/9402 (someone's `make run`), the test runs
its processes on free ports under a private Prometheus made from the same config template and
rule files instead.

Every selector of an expression must also have live samples, so data left in the TSDB by an
earlier run cannot pass for this one. A process whose command does not exist yet is not started,
and a metric module the process does not import yet serves nothing: the expressions that need
them are skipped with that reason.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.grafana.promql import (
    REPO,
    Expr,
    dashboard_exprs,
    load_grafana_module,
    promql_for_prometheus,
    rule_groups,
)

pytestmark = pytest.mark.integration

HOPSHARBOR = Path(sys.executable).parent / "hopsharbor"
SETTLE_SECONDS = 120  # how long expressions may take to show data after the traffic started
JOBS = {"connector": "hopsharbor-connector", "worker": "hopsharbor-worker"}

# Series that no process serves yet, with the reason (kept in step with tests/grafana/test_dashboards.py).
NOT_SERVED_YET: dict[str, str] = {}

# hopsharbor_*, process_* and up selectors, with their label matchers.
_SELECTOR = re.compile(r'(?<![:\w"])((?:hopsharbor|process)_\w+|up)(?![\w(:"])(\{[^}]*\})?')


def _selectors(expr: str) -> list[str]:
    return sorted({name + (labels or "") for name, labels in _SELECTOR.findall(expr)})


@functools.cache
def _declared() -> dict[str, tuple[str, str, str]]:
    """Series name -> (process, job, declaring module)."""
    catalogue = load_grafana_module("catalogue")
    owner = {}
    for metric in catalogue.collect():
        for name in catalogue.series_names([metric]):
            owner[name] = (metric.process, metric.job, metric.module)
    return owner


def _without_label_filters(selector: str) -> str:
    """`m{job="x", status=~"4.."}` -> `m{job="x"}`: the series an alert reads, whatever its condition."""
    name, _, labels = selector.partition("{")
    jobs = re.findall(r'job=~?"[^"]*"', labels)
    return name + ("{" + ", ".join(jobs) + "}" if jobs else "")


# --- Prometheus ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prometheus:
    url: str

    def get(self, path: str, **params: str) -> dict:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.get("/api/v1/query", query=expr)["result"]


# --- the processes ---------------------------------------------------------------------------------


def _command_exists(*words: str) -> bool:
    result = subprocess.run([str(HOPSHARBOR), *words, "--help"], capture_output=True, text=True, timeout=60)
    return result.returncode == 0


def _port_taken(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _harbor_password(stack) -> str:
    """The stack's Harbor admin secret; any value when the Harbor service never made one (then no
    Harbor answers either, and every call is counted with status "error")."""
    path = stack.dir / "secrets" / "harbor-admin"
    return path.read_text().strip() if path.exists() else "no-harbor-in-this-stack"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _private_prometheus(work: Path, ports: dict[str, int]) -> tuple[subprocess.Popen, str]:
    """The stack's Prometheus config (deploy/local/prometheus/prometheus.yml.in, same rule files)
    on free ports, with its own TSDB under `work`."""
    port = _free_port()
    config = (REPO / "deploy" / "local" / "prometheus" / "prometheus.yml.in").read_text()
    for key, value in {
        "@REPO_DIR@": str(REPO),
        "@PROMETHEUS_PORT@": str(port),
        "@CONNECTOR_METRICS_PORT@": str(ports["connector"]),
        "@WORKER_METRICS_PORT@": str(ports["worker"]),
    }.items():
        config = config.replace(key, value)
    (work / "prometheus.yml").write_text(config)
    with (work / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"private Prometheus exited: {(work / 'prometheus.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    _stop(proc)
    pytest.fail("private Prometheus not ready within 30s")


@dataclass
class Pipeline:
    prometheus: Prometheus
    started: float
    running: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    not_running: dict[str, str] = field(default_factory=dict)  # process -> why
    served: dict[tuple[str, str], bool] = field(default_factory=dict)  # (module, job) -> any series

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs.get(name)
        if path is None or not path.exists():
            return ""
        return f"--- last lines of the {name} log ---\n" + "\n".join(path.read_text().splitlines()[-lines:])

    def check_alive(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                pytest.fail(f"the {name} exited with {proc.returncode}\n{self.tail(name)}")


def _start(name: str, args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(HOPSHARBOR), *args],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=log_path.parent,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _wait_up(pipeline: Pipeline, name: str, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.check_alive()
        if pipeline.prometheus.query(f'up{{job="{JOBS[name]}"}} == 1'):
            return
        time.sleep(0.5)
    pytest.fail(f"Prometheus does not see the {name} up after {timeout:.0f}s\n{pipeline.tail(name)}")


def _workload(db, name_prefix: str) -> None:
    """Users, one project with members and one library install that fails in Hopsworks, committed
    one transaction at a time as Hopsworks would. No successful install: an image build takes a
    minute or two on the stack's vfs dockerd, and the build series exist without one (the image
    service initialises them at start)."""
    import pymysql

    from streams.tools.simulate import run_workload
    from streams.tools.workload import WorkloadConfig, plan

    steps = plan(
        WorkloadConfig(
            users=4,
            projects=1,
            members_per_project=3,
            libraries_per_project=0,
            failed_installs_per_project=1,
            delete_projects=0,
            name_prefix=name_prefix,
        )
    )
    conn = pymysql.connect(
        host=db.host,
        port=db.port,
        user=db.user,
        password=db.password,
        database=db.name,
        autocommit=False,
        charset="utf8mb4",
    )
    try:
        run_workload(conn, steps)
    finally:
        conn.close()


def _bad_event(stack, topic: str) -> None:
    """One record that is not JSON on a CDC topic: the worker dead-letters it (reason not_json)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    try:
        producer.send(topic, key=b'{"uid": 999999}', value=b"this is not a change event").get(timeout=30)
    finally:
        producer.close()


@pytest.fixture(scope="module")
def pipeline(stack, tmp_path_factory) -> Iterator[Pipeline]:
    for service in ("prometheus", "kafka", "mariadb"):
        stack.require(service)
    work = tmp_path_factory.mktemp("pipeline")
    ports = {
        "connector": int(stack.env["CONNECTOR_METRICS_PORT"]),
        "worker": int(stack.env["WORKER_METRICS_PORT"]),
    }
    # A module-scoped database and prefix (conftest's mysql_db and topic_prefix are per test).
    db = _Database.create(stack)
    private: subprocess.Popen | None = None
    pipe: Pipeline | None = None
    prefix = f"t{uuid.uuid4().hex[:10]}"
    name_prefix = f"o{uuid.uuid4().hex[:3]}"  # users and projects of this run (usernames keep 4 chars)
    registry = f"127.0.0.1:{stack.port('registry')}"
    common = {
        "HOPSHARBOR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "HOPSHARBOR_TOPIC_PREFIX": prefix,
        "HOPSHARBOR_DATABASE": db.name,
    }
    commands = {
        "connector": (
            ["connector", "run"],
            {
                **common,
                "HOPSHARBOR_MYSQL_HOST": "127.0.0.1",
                "HOPSHARBOR_MYSQL_PORT": str(stack.port("mariadb")),
                "HOPSHARBOR_MYSQL_USER": stack.env["MARIADB_CAPTURE_USER"],
                "HOPSHARBOR_MYSQL_PASSWORD": stack.secret("mariadb-capture"),
                "HOPSHARBOR_CONNECTOR_NAME": prefix,
                "HOPSHARBOR_SERVER_ID": str(20000 + uuid.uuid4().int % 20000),
            },
        ),
        "worker": (
            ["worker"],
            {
                **common,
                "HOPSHARBOR_STATE_TOPIC": f"{prefix}.state",
                "HOPSHARBOR_DLQ_TOPIC": f"{prefix}.dlq",
                "HOPSHARBOR_APP_ID": f"{prefix}-worker",
                "HOPSHARBOR_DATA_DIR": str(work / "worker-data"),
                "HOPSHARBOR_ROBOT_SECRETS_DIR": str(work / "robot-secrets"),
                "HOPSHARBOR_RESYNC_INTERVAL": "5",
                "HOPSHARBOR_LAG_INTERVAL": "1",
                # Harbor as the stack has it: when its core is not running every call ends in
                # status "error", which the error panels and ratios need anyway.
                "HOPSHARBOR_HARBOR_URL": f"http://127.0.0.1:{stack.port('harbor')}",
                "HOPSHARBOR_HARBOR_PASSWORD": _harbor_password(stack),
                # Images: built on the stack's dockerd, pushed to its plain registry.
                "HOPSHARBOR_IMAGE_ENABLED": "true",
                "HOPSHARBOR_IMAGE_RECORDS_TOPIC": f"{prefix}.images",
                "HOPSHARBOR_IMAGE_DOCKER_HOST": stack.docker_host,
                "HOPSHARBOR_IMAGE_REGISTRY": registry,
                "HOPSHARBOR_IMAGE_ANONYMOUS_PUSH": "true",
                "HOPSHARBOR_IMAGE_BASE_IMAGE": stack.env["BASE_IMAGE"],
                "HOPSHARBOR_IMAGE_PIP_ARGS": "--no-index",
            },
        ),
    }
    try:
        if any(_port_taken(p) for p in ports.values()):
            # Another connector or worker (someone's `make run`) holds the ports the stack's
            # Prometheus scrapes: run ours on free ports under a private Prometheus made from the
            # same config template and rule files.
            ports = {name: _free_port() for name in ports}
            private, url = _private_prometheus(work, ports)
        else:
            url = f"http://127.0.0.1:{stack.port('prometheus')}"
            # Re-read the rule files: they may have changed since the stack started (lifecycle API on).
            urllib.request.urlopen(
                urllib.request.Request(f"{url}/-/reload", method="POST"), timeout=10
            ).close()
        for name, port in ports.items():
            commands[name][1]["HOPSHARBOR_METRICS_PORT"] = str(port)
        pipe = Pipeline(prometheus=Prometheus(url), started=time.monotonic())
        for name, (args, env) in commands.items():
            if not _command_exists(*args):
                pipe.not_running[name] = f"`hopsharbor {' '.join(args)}` does not exist yet"
            else:
                pipe.logs[name] = work / f"{name}.log"
                pipe.running[name] = _start(name, args, env, pipe.logs[name])
                _wait_up(pipe, name)
        if pipe.running:
            _workload(db, name_prefix)
            if "worker" in pipe.running:
                _bad_event(stack, f"{prefix}.{db.name}.users")
        pipe.started = time.monotonic()
        yield pipe
    finally:
        for proc in pipe.running.values() if pipe else ():
            _stop(proc)
        if private is not None:
            _stop(private)
        db.drop()


@dataclass(frozen=True)
class _Database:
    """A fresh database with the Hopsworks schema (as conftest's mysql_db, but for the module)."""

    name: str
    host: str
    port: int
    user: str
    password: str

    @classmethod
    def create(cls, stack) -> _Database:
        import pymysql

        from schemas import hopsworks_ddl

        db = cls(
            f"hopsharbor_{uuid.uuid4().hex[:10]}",
            "127.0.0.1",
            stack.port("mariadb"),
            stack.env["MARIADB_APP_USER"],
            stack.secret("mariadb-app"),
        )
        conn = pymysql.connect(
            host=db.host, port=db.port, user=db.user, password=db.password, autocommit=True
        )
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{db.name}`")
            for statement in hopsworks_ddl():
                cur.execute(statement)
        conn.close()
        return db

    def drop(self) -> None:
        import pymysql

        conn = pymysql.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, autocommit=True
        )
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        conn.close()


# --- the checks ------------------------------------------------------------------------------------


def _module_served(pipeline: Pipeline, module: str, job: str) -> bool:
    """Does the process serve any metric of this declaration module (is the module wired in)?"""
    key = (module, job)
    if key not in pipeline.served:
        names = sorted(n for n, (_, _, m) in _declared().items() if m == module)
        pipeline.served[key] = bool(
            pipeline.prometheus.query(f'{{__name__=~"{"|".join(names)}", job="{job}"}}')
        )
    return pipeline.served[key]


def _skip_reason(pipeline: Pipeline, expr: str) -> str | None:
    """Why this expression cannot have data in this run, or None when it must."""
    if not pipeline.running:
        return "neither the connector nor the worker runs: " + "; ".join(pipeline.not_running.values())
    for selector in _selectors(expr):
        name = selector.split("{", 1)[0]
        if name in NOT_SERVED_YET:
            return f"{name}: {NOT_SERVED_YET[name]}"
        process, job, module = _declared().get(name, (None, None, None))
        if name.startswith("process_"):
            # prometheus_client's default registry (the worker's) exports them; the connector's own
            # registry has no ProcessCollector.
            process = "worker"
        if process is None:
            process = next((p for p, j in JOBS.items() if j in selector and p in pipeline.not_running), None)
        if process in pipeline.not_running:
            return f"{name} comes from the {process}, not running: {pipeline.not_running[process]}"
        if module and job and not _module_served(pipeline, module, job):
            return f"{name}: the {process} serves no metric of {module} (not wired into the process yet)"
    return None


def _wait_for_data(pipeline: Pipeline, exprs: list[str]) -> list[str]:
    """Poll until every expression returns a sample (until SETTLE_SECONDS after the traffic); the
    ones still empty then."""
    empty = list(exprs)
    while True:
        pipeline.check_alive()
        empty = [e for e in empty if not pipeline.prometheus.query(e)]
        if not empty or time.monotonic() > pipeline.started + SETTLE_SECONDS:
            return empty
        time.sleep(1)


def _check(pipeline: Pipeline, e: Expr, *, whole: bool) -> None:
    expr = promql_for_prometheus(e.expr)
    reason = _skip_reason(pipeline, expr)
    if reason:
        pytest.skip(reason)
    selectors = _selectors(expr) if whole else sorted({_without_label_filters(x) for x in _selectors(expr)})
    wanted = ([expr] if whole else []) + selectors
    empty = _wait_for_data(pipeline, wanted)
    logs = "\n".join(pipeline.tail(name, 15) for name in pipeline.running)
    assert not empty, f"{e.where}: no data for {empty}\n{logs}"


@pytest.mark.parametrize("e", dashboard_exprs(), ids=lambda e: e.where)
def test_dashboard_expression_returns_data(pipeline: Pipeline, e: Expr) -> None:
    _check(pipeline, e, whole=True)


_RECORDS = [
    Expr(f"record {r['record']}", r["expr"]) for g in rule_groups() for r in g["rules"] if "record" in r
]
_ALERTS = [Expr(f"alert {r['alert']}", r["expr"]) for g in rule_groups() for r in g["rules"] if "alert" in r]


@pytest.mark.parametrize("e", _RECORDS, ids=lambda e: e.where)
def test_recording_rule_returns_data(pipeline: Pipeline, e: Expr) -> None:
    _check(pipeline, e, whole=True)


@pytest.mark.parametrize("e", _ALERTS, ids=lambda e: e.where)
def test_alert_reads_live_series(pipeline: Pipeline, e: Expr) -> None:
    _check(pipeline, e, whole=False)


def test_prometheus_loaded_every_rule_and_evaluates_it_without_error(pipeline: Pipeline) -> None:
    loaded = {
        (rule["name"], rule["health"], rule.get("lastError", ""))
        for group in pipeline.prometheus.get("/api/v1/rules")["groups"]
        if group["name"].startswith("hopsharbor.")
        for rule in group["rules"]
    }
    expected = {r.get("alert") or r.get("record") for g in rule_groups() for r in g["rules"]}
    names = {name for name, _, _ in loaded}
    assert expected <= names, (
        f"not loaded (run `deploy/local/services/prometheus.sh reload`): {expected - names}"
    )
    assert {(n, h, err) for n, h, err in loaded if h == "err"} == set()


def test_a_dead_letter_raises_the_dlq_alert(pipeline: Pipeline) -> None:
    if "worker" not in pipeline.running:
        pytest.skip(f"the worker is not running: {pipeline.not_running.get('worker')}")
    query = 'ALERTS{alertname="HopsharborDeadLettersGrowing", job="hopsharbor-worker", reason="not_json"}'
    assert not _wait_for_data(pipeline, [query]), (
        "the malformed record did not raise HopsharborDeadLettersGrowing"
    )


def test_the_processes_serve_what_the_catalogue_lists(pipeline: Pipeline) -> None:
    """Every metric in grafana/README.md's catalogue is scraped from the process it is listed under."""
    if not pipeline.running:
        pytest.skip("; ".join(pipeline.not_running.values()))
    catalogue = load_grafana_module("catalogue")
    metrics = [m for m in catalogue.collect() if m.process in pipeline.running]
    unwired = sorted({m.module for m in metrics if not _module_served(pipeline, m.module, m.job)})
    queries = [
        f'{m.name}{"_count" if m.type == "histogram" else ""}{{job="{m.job}"}}'
        for m in metrics
        if m.module not in unwired
    ]
    missing = _wait_for_data(pipeline, queries)
    assert not missing, f"declared but not served (label values not initialised at start?): {missing}"
    if unwired:
        pytest.skip(f"the processes serve no metric of {unwired} (not wired in yet); the rest is served")
