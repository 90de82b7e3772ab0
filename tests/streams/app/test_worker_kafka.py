"""The worker on the real Kafka: Debezium events on the CDC topics -> desired state on the
compacted state topic, surviving a restart (tables recovered from their changelogs).

Harbor is not needed here: the worker points at a port where nothing listens, so every reconcile
is a RetriableError and retried in the background (Harbor down); the state topic is still written.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from streams.app.state_reader import read_state
from tests.streams.mapping.histories import envelope, project_row, team_row, user_row

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "--log-level", "INFO", "worker"],
            cwd=REPO,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.env['HOPSHARBOR_METRICS_PORT']}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""


@pytest.fixture
def worker(stack, topic_prefix: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    env = {
        **os.environ,
        "HOPSHARBOR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "HOPSHARBOR_TOPIC_PREFIX": topic_prefix,
        "HOPSHARBOR_DATABASE": "hopsworks",
        "HOPSHARBOR_STATE_TOPIC": f"{topic_prefix}.state",
        "HOPSHARBOR_DLQ_TOPIC": f"{topic_prefix}.dlq",
        "HOPSHARBOR_APP_ID": f"{topic_prefix}-worker",
        "HOPSHARBOR_DATA_DIR": str(tmp_path / "data"),
        "HOPSHARBOR_METRICS_PORT": str(free_port()),
        "HOPSHARBOR_HARBOR_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: Harbor down
        "HOPSHARBOR_HARBOR_PASSWORD": "unused-in-this-test",
        "HOPSHARBOR_ROBOT_SECRETS_DIR": str(tmp_path / "secrets"),
        "HOPSHARBOR_HARBOR_RETRIES": "0",
        "HOPSHARBOR_RETRY_MAX": "2",
        "HOPSHARBOR_LAG_INTERVAL": "0.5",
    }
    process = WorkerProcess(env, tmp_path / "worker.log")
    yield process
    process.stop()


async def produce(bootstrap: str, records: list[tuple[str, bytes, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def wait_for_state(
    bootstrap: str, topic: str, predicate, timeout: float = 90.0
) -> dict[str, str | None]:
    deadline = time.monotonic() + timeout
    state: dict[str, str | None] = {}
    while time.monotonic() < deadline:
        try:
            state = await read_state(bootstrap, topic, timeout=10)
        except Exception:  # noqa: BLE001 - the topic appears when the worker starts
            state = {}
        if predicate(state):
            return state
        await asyncio.sleep(1)
    raise AssertionError(f"state topic never matched; last seen {state}")


def members(state: dict[str, str | None], key: str) -> dict[str, int] | None:
    value = state.get(key)
    return None if value is None else json.loads(value)["members"]


async def test_events_to_state_topic_and_restart_recovers_tables(stack, topic_prefix, worker) -> None:
    stack.require("kafka")
    t = lambda table: f"{topic_prefix}.hopsworks.{table}"  # noqa: E731
    await produce(
        stack.kafka_bootstrap,
        [
            (t("users"), b'{"uid":1}', envelope("c", None, user_row(1, "ada", "ada@ex.org"))),
            (t("users"), b'{"uid":2}', envelope("c", None, user_row(2, "bob", "bob@ex.org"))),
            (t("project"), b'{"id":7}', envelope("c", None, project_row(7, "Demo", "ada@ex.org", 1))),
            (
                t("project_team"),
                b'{"project_id":7,"team_member":"ada@ex.org"}',
                envelope("c", None, team_row(7, "ada@ex.org", "Data owner")),
            ),
            (
                t("project"),
                b'{"id":7}',
                envelope(
                    "u", project_row(7, "Demo", "ada@ex.org", 1), project_row(7, "Demo", "ada@ex.org", 0)
                ),
            ),
            (t("users"), b'{"uid":3}', b"\x00 not json"),
        ],
    )
    worker.start()
    state = await wait_for_state(
        stack.kafka_bootstrap, f"{topic_prefix}.state", lambda s: members(s, "project/demo") == {"ada": 1}
    )
    assert json.loads(state["user/ada"])["email"] == "ada@ex.org" and "user/bob" in state
    status, _ = worker.get("/healthz")
    assert status == 200
    status, text = worker.get("/metrics")
    assert status == 200
    for _ in range(20):  # the lag is sampled by a timer
        if 'hopsharbor_consumer_lag{partition="0",topic="' + t("users") + '"} 0.0' in text:
            break
        time.sleep(0.5)
        status, text = worker.get("/metrics")
    assert 'hopsharbor_consumer_lag{partition="0",topic="' + t("users") + '"} 0.0' in text
    assert 'hopsharbor_worker_events_total{op="c",table="users"} 2.0' in text
    assert 'hopsharbor_dlq_records_total{reason="not_json"} 1.0' in text
    assert 'hopsharbor_reconciles_total{kind="project",result="retriable"}' in text

    # Restart: the working tables come back from their changelogs, so a member added now joins
    # the members the first run saw (no event is re-read: offsets were committed).
    worker.stop()
    await produce(
        stack.kafka_bootstrap,
        [
            (
                t("project_team"),
                b'{"project_id":7,"team_member":"bob@ex.org"}',
                envelope("c", None, team_row(7, "bob@ex.org", "Data scientist")),
            ),
        ],
    )
    worker.start()
    state = await wait_for_state(
        stack.kafka_bootstrap,
        f"{topic_prefix}.state",
        lambda s: members(s, "project/demo") == {"ada": 1, "bob": 2},
    )
    # Project deletion: 'Under removal' then the delete -> tombstone (cascaded rows are not in the binlog).
    await produce(
        stack.kafka_bootstrap,
        [
            (
                t("project_team"),
                b'{"project_id":7,"team_member":"bob@ex.org"}',
                envelope(
                    "u",
                    team_row(7, "bob@ex.org", "Data scientist"),
                    team_row(7, "bob@ex.org", "Under removal"),
                ),
            ),
            (t("project"), b'{"id":7}', envelope("d", project_row(7, "Demo", "ada@ex.org", 0), None)),
            (t("project"), b'{"id":7}', None),
        ],
    )
    state = await wait_for_state(
        stack.kafka_bootstrap,
        f"{topic_prefix}.state",
        lambda s: "project/demo" in s and s["project/demo"] is None,
    )
    assert state["user/ada"] is not None
