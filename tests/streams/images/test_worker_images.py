"""The worker on the real Kafka with images on: CDC events in, image in the registry out; a second
worker replaying the topics from offset 0 (new consumer group, empty tables) builds nothing.

Needs Kafka, dockerd, the base image and the plain registry. Harbor reconcile is off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import Stack
from tests.streams.app.test_worker_kafka import WorkerProcess, free_port, produce
from tests.streams.images.test_build_registry import deleted
from tests.streams.mapping.histories import envelope, project_row

pytestmark = pytest.mark.integration


@pytest.fixture
def make_worker(stack: Stack, topic_prefix: str, wheel_dir: Path, tmp_path: Path) -> Iterator[object]:
    workers: list[WorkerProcess] = []

    def make(app_id: str) -> WorkerProcess:
        env = {
            "HOPSHARBOR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            "HOPSHARBOR_TOPIC_PREFIX": topic_prefix,
            "HOPSHARBOR_DATABASE": "hopsworks",
            "HOPSHARBOR_STATE_TOPIC": f"{topic_prefix}.state",
            "HOPSHARBOR_DLQ_TOPIC": f"{topic_prefix}.dlq",
            "HOPSHARBOR_APP_ID": app_id,
            "HOPSHARBOR_DATA_DIR": str(tmp_path / app_id),
            "HOPSHARBOR_METRICS_PORT": str(free_port()),
            "HOPSHARBOR_RECONCILE_ENABLED": "false",
            "HOPSHARBOR_HARBOR_PASSWORD": "unused-in-this-test",
            "HOPSHARBOR_IMAGE_ENABLED": "true",
            "HOPSHARBOR_IMAGE_DOCKER_HOST": stack.docker_host,
            "HOPSHARBOR_IMAGE_REGISTRY": f"127.0.0.1:{stack.port('registry')}",
            "HOPSHARBOR_IMAGE_ANONYMOUS_PUSH": "true",
            "HOPSHARBOR_IMAGE_BASE_IMAGE": stack.env["BASE_IMAGE"],
            "HOPSHARBOR_IMAGE_WHEEL_DIR": str(wheel_dir),
            "HOPSHARBOR_IMAGE_PIP_ARGS": "--no-index --find-links /wheels",
            "HOPSHARBOR_IMAGE_NETWORK_MODE": "none",
            "HOPSHARBOR_IMAGE_RECORDS_TOPIC": f"{topic_prefix}.images",
            "PATH": "/usr/bin:/bin",
        }
        worker = WorkerProcess(env, tmp_path / f"{app_id}.log")
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


def metric(worker: WorkerProcess, *lines: str, timeout: float = 120.0) -> None:
    """Wait until the worker's /metrics shows one of `lines`."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            status, text = worker.get("/metrics")
        except OSError:
            status = 0
        if status == 200 and any(line in text for line in lines):
            return
        if worker.proc is not None and worker.proc.poll() is not None:
            break
        time.sleep(1)
    log = worker.log.read_text(errors="replace")[-3000:]
    raise AssertionError(
        f"{lines!r} never appeared; builds: "
        f"{[x for x in text.splitlines() if 'image_builds_total' in x]}\n{log}"
    )


async def dead_letters(bootstrap: str, topic: str) -> list[dict[str, object]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        return [json.loads(r.value) for records in batches.values() for r in records if r.value]
    finally:
        await consumer.stop()


async def test_worker_builds_once_and_a_replay_builds_nothing(
    stack: Stack, topic_prefix: str, make_worker
) -> None:
    stack.require("kafka")
    stack.require("registry")
    t = lambda table: f"{topic_prefix}.hopsworks.{table}"  # noqa: E731
    name = f"w{topic_prefix}"
    install = deleted(1, "INSTALL")
    failed = deleted(2, "INSTALL", "nothing")
    await produce(
        stack.kafka_bootstrap,
        [
            (t("project"), b'{"id":7}', envelope("c", None, project_row(7, name, "ada@ex.org"))),
            (t("conda_commands"), b'{"id":1}', envelope("c", None, {**install, "status": "NEW"})),
            (t("conda_commands"), b'{"id":1}', envelope("u", {**install, "status": "NEW"}, install)),
            (t("conda_commands"), b'{"id":1}', envelope("d", install, None)),
            (t("conda_commands"), b'{"id":1}', None),
            (t("conda_commands"), b'{"id":2}', envelope("u", failed, {**failed, "status": "FAILED"})),
            (t("conda_commands"), b'{"id":3}', b"\x00 not json"),
        ],
    )
    first = make_worker(f"{topic_prefix}-a")
    first.start()
    metric(first, 'hopsharbor_image_builds_total{result="built"} 1.0')
    tag = "1700000000001-4.0.0.1"
    response = httpx.get(
        f"http://127.0.0.1:{stack.port('registry')}/v2/{name}/{name}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert response.status_code == 200
    first.stop()
    letters = [
        x
        for x in await dead_letters(stack.kafka_bootstrap, f"{topic_prefix}.dlq")
        if x.get("stage") == "image"
    ]
    assert [x["reason"] for x in letters] == ["bad_command"]

    # New consumer group: replays every topic from offset 0. The command is skipped (the image
    # records topic says the project is at command 1) or found in the registry: never built.
    second = make_worker(f"{topic_prefix}-b")
    second.start()
    metric(
        second,
        'hopsharbor_image_builds_total{result="skipped"} 1.0',
        'hopsharbor_image_builds_total{result="exists"} 1.0',
    )
    metric(second, 'hopsharbor_image_builds_total{result="built"} 0.0', timeout=5)
