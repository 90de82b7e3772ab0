"""The worker behind the real connector: a Hopsworks workload on MariaDB -> `hopsharbor connector run`
-> Kafka -> `hopsharbor worker` (HOPSHARBOR_RECONCILE_ENABLED=false: no Harbor needed) -> the state
topic equals the desired state computed afresh from the final tables (streams.mapping.derive_all).

This is the property test's claim on real servers, with the connector's actual event encoding.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.app.state_reader import read_state_sync
from streams.mapping import MappingConfig, ProjectRow, TeamRow, UserRow, derive_all
from streams.tools.simulate import run_workload
from streams.tools.workload import WorkloadConfig, plan
from tests.streams.app.test_worker_kafka import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def final_desired(conn) -> dict[str, dict]:  # noqa: ANN001
    with conn.cursor() as cur:
        cur.execute("SELECT uid, username, email, fname, lname, status, mode FROM users")
        users = [
            UserRow.from_row(
                dict(zip(("uid", "username", "email", "fname", "lname", "status", "mode"), r, strict=True))
            )
            for r in cur.fetchall()
        ]
        cur.execute("SELECT id, projectname, username, creation_status, docker_image FROM project")
        projects = [
            ProjectRow.from_row(
                dict(
                    zip(("id", "projectname", "username", "creation_status", "docker_image"), r, strict=True)
                )
            )
            for r in cur.fetchall()
        ]
        cur.execute("SELECT project_id, team_member, team_role FROM project_team")
        team = [
            TeamRow.from_row(dict(zip(("project_id", "team_member", "team_role"), r, strict=True)))
            for r in cur.fetchall()
        ]
    desired = derive_all(users, projects, team, MappingConfig())
    return {k.encode(): json.loads(v.model_dump_json()) for k, v in desired.items()}


def test_connector_and_worker_publish_the_desired_state_of_the_final_tables(
    mysql_db, stack, topic_prefix, tmp_path
) -> None:
    from tests.connectors.support import env_for, settings_for

    stack.require("kafka")
    connector = start(
        ["connector", "run"],
        env_for(settings_for(mysql_db, stack, topic_prefix, metrics_port=free_port())),
        tmp_path / "connector.log",
    )
    worker_env = {
        **os.environ,
        "HOPSHARBOR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "HOPSHARBOR_TOPIC_PREFIX": topic_prefix,
        "HOPSHARBOR_DATABASE": mysql_db.name,
        "HOPSHARBOR_STATE_TOPIC": f"{topic_prefix}.state",
        "HOPSHARBOR_DLQ_TOPIC": f"{topic_prefix}.dlq",
        "HOPSHARBOR_APP_ID": f"{topic_prefix}-worker",
        "HOPSHARBOR_DATA_DIR": str(tmp_path / "worker"),
        "HOPSHARBOR_METRICS_PORT": str(free_port()),
        "HOPSHARBOR_RECONCILE_ENABLED": "false",
    }
    worker = start(["worker"], worker_env, tmp_path / "worker.log")
    try:
        conn = mysql_db.connect()
        cfg = WorkloadConfig(
            users=8,
            projects=4,
            members_per_project=3,
            libraries_per_project=1,
            delete_projects=1,
            name_prefix="pl",
        )
        run_workload(conn, plan(cfg))
        with conn.cursor() as cur:  # a status change after the fact: a blocked member drops out
            cur.execute("UPDATE users SET status = 4 WHERE email = %s", ("pluser1@hopsworks.test",))
        want = final_desired(conn)
        assert any(k.startswith("project/") for k in want)
        deadline, have = time.monotonic() + 90, {}
        while time.monotonic() < deadline:
            try:
                state = read_state_sync(stack.kafka_bootstrap, f"{topic_prefix}.state", timeout=10)
                have = {k: json.loads(v) for k, v in state.items() if v is not None}
            except Exception:  # noqa: BLE001 - the state topic appears once the worker runs
                have = {}
            if have == want:
                break
            time.sleep(1)
        assert have == want, f"logs in {tmp_path}"
    finally:
        stop(worker)
        stop(connector)
