"""`hopsharbor verify`: the comparison itself (unit) and the whole pipeline up to the state topic
(integration: real MariaDB, the real connector and worker processes, real Kafka)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.desired.model import ProjectState, ResourceKind, StateKey, UserState
from streams.tools.verify import compare_state
from streams.tools.workload import WorkloadConfig, plan

ALICE = StateKey(kind=ResourceKind.USER, name="alice")
DEMO = StateKey(kind=ResourceKind.PROJECT, name="demo")


@pytest.mark.unit
def test_compare_state_reports_missing_extra_and_changed_fields() -> None:
    project = ProjectState(name="demo", hopsworks_id=1, owner="alice", members={"alice": 1})
    expected = {ALICE: UserState(username="alice", email="a@x"), DEMO: project}
    assert compare_state(expected, dict(expected)) == []
    lines = compare_state(expected, {DEMO: project.model_copy(update={"members": {"alice": 1, "bob": 2}})})
    assert lines[0].startswith("~ project/demo: members is {'alice': 1, 'bob': 2}")
    assert lines[1].startswith("+ user/alice")
    assert compare_state({}, {ALICE: expected[ALICE]}) == [
        "- user/alice: on the state topic but absent from the database"
    ]
    assert compare_state({}, {ALICE: None}) == []  # a tombstone of an absent resource is converged


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.integration
def test_pipeline_converges_database_to_state_topic(stack, mysql_db, topic_prefix, tmp_path: Path) -> None:
    """Hopsworks actions in MariaDB -> connector -> Kafka -> worker -> state topic == derive_all(tables)."""
    from streams.settings import Settings
    from streams.tools.simulate import DatabaseSettings, run_workload
    from streams.tools.verify import verify_once

    env = {
        **os.environ,
        "HOPSHARBOR_MYSQL_PORT": str(mysql_db.port),
        "HOPSHARBOR_MYSQL_USER": mysql_db.capture_user,
        "HOPSHARBOR_MYSQL_PASSWORD": mysql_db.capture_password,
        "HOPSHARBOR_DATABASE": mysql_db.name,
        "HOPSHARBOR_TOPIC_PREFIX": topic_prefix,
        "HOPSHARBOR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "HOPSHARBOR_STATE_TOPIC": f"{topic_prefix}.state",
        "HOPSHARBOR_DLQ_TOPIC": f"{topic_prefix}.dlq",
        "HOPSHARBOR_APP_ID": f"{topic_prefix}-worker",
        "HOPSHARBOR_DATA_DIR": str(tmp_path / "worker"),
        "HOPSHARBOR_ROBOT_SECRETS_DIR": str(tmp_path / "robots"),
        "HOPSHARBOR_HARBOR_PASSWORD": "unused-harbor-is-not-checked-here",
        "HOPSHARBOR_HARBOR_URL": f"http://127.0.0.1:{_free_port()}",  # nothing listens: reconciles back off
    }
    conn = mysql_db.connect()
    conn.autocommit(False)
    run_workload(conn, plan(WorkloadConfig(users=5, projects=3, members_per_project=2, delete_projects=1)))
    conn.close()

    procs = []
    logs = []
    for name, args in (("connector", ["connector", "run"]), ("worker", ["worker"])):
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed below
        logs.append(log)
        port = str(_free_port())
        penv = {**env, "HOPSHARBOR_METRICS_PORT": port}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "streams.cli", *args], env=penv, stdout=log, stderr=subprocess.STDOUT
            )
        )
    try:
        settings = Settings(
            **{
                k[len("HOPSHARBOR_") :].lower(): v
                for k, v in env.items()
                if k.startswith("HOPSHARBOR_") and k[len("HOPSHARBOR_") :].lower() in Settings.model_fields
            }
        )
        db = DatabaseSettings(
            port=mysql_db.port, user=mysql_db.user, password=mysql_db.password, database=mysql_db.name
        )
        deadline = time.monotonic() + 90
        report = None
        while time.monotonic() < deadline:
            for p in procs:
                assert p.poll() is None, f"a pipeline process exited: see {tmp_path}"
            try:
                report = asyncio.run(verify_once(settings, db, check_harbor=False))
            except Exception:  # noqa: BLE001 - state topic not created yet
                report = None
            if report is not None and not report.state_diff:
                break
            time.sleep(1)
        assert report is not None and report.state_diff == [], report and report.state_diff
        assert report.keys == 5 + 2  # five users, three projects minus the deleted one

        # `hopsharbor status` reads the same pipeline: a stored connector offset, the worker's lag
        # (the worker commits its offsets every few seconds)
        wanted = f"{topic_prefix}.{mysql_db.name}.project[0] committed"
        for _ in range(20):
            status = subprocess.run(
                [sys.executable, "-m", "streams.cli", "status"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if wanted in status.stdout:
                break
            time.sleep(1)
        assert "stored offset: gtids=" in status.stdout, status.stdout + status.stderr
        assert f"{topic_prefix}.{mysql_db.name}.project[0] committed" in status.stdout
        assert status.returncode == 1 and "harbor not readable" in status.stdout  # nothing listens there
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()
