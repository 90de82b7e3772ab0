"""The image agents through agent.test_context() (no broker), with a fake builder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import faust
import pytest

from streams.images.agent import ImageAgents, parse_conda_event, register_image_agents
from streams.images.config import ImageConfig
from streams.images.credentials import AnonymousCredentials
from streams.images.errors import TerminalImageError
from streams.images.state import ImageRecord
from streams.settings import Settings
from tests.streams.images.test_service import FakeBuilder

pytestmark = pytest.mark.unit


def envelope(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> bytes:
    return json.dumps(
        {"op": op, "before": before, "after": after, "source": {"ts_ms": 1}, "ts_ms": 2}
    ).encode()


def conda_row(id: int, status: str, op: str = "INSTALL", project_id: int = 7) -> dict[str, Any]:
    return {
        "id": id,
        "project_id": project_id,
        "op": op,
        "status": status,
        "lib": "six",
        "version": "1.0",
        "install_type": "PIP",
        "created": 1000,
        "user_id": 1,
    }


def project_row(id: int, name: str) -> dict[str, Any]:
    return {"id": id, "projectname": name, "username": "ada@ex.org", "creation_status": 0}


@pytest.fixture
def wired(tmp_path: Path) -> tuple[ImageAgents, FakeBuilder, list[Any], list[Any]]:
    app = faust.App(
        "hopsharbor-images-unit", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False
    )
    builder = FakeBuilder()
    letters: list[Any] = []
    records: list[Any] = []

    async def dead_letter(key: bytes, value: bytes) -> None:
        letters.append(json.loads(value))

    async def record_sink(project: str, record: ImageRecord | None) -> None:
        records.append((project, record))

    config = ImageConfig(registry="r:1", tag_template="{command_id}", base_image="base:1", project_wait=0.2)
    agents = register_image_agents(
        app,
        Settings(data_dir=tmp_path),
        builder,  # type: ignore[arg-type]
        config=config,
        dead_letter=dead_letter,
        credentials=AnonymousCredentials(),
        record_sink=record_sink,
    )
    assert agents is not None
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    return agents, builder, letters, records


async def test_success_builds_and_failed_or_malformed_do_not(wired) -> None:
    agents, builder, letters, records = wired
    async with (
        agents.agents["images-projects"].test_context() as projects,
        agents.agents["images-conda"].test_context() as conda,
    ):
        await projects.put(envelope("c", None, project_row(7, "Demo")), key=b'{"id": 7}')
        await conda.put(envelope("c", None, conda_row(1, "NEW")), key=b'{"id": 1}')
        await conda.put(envelope("u", conda_row(1, "NEW"), conda_row(1, "ONGOING")), key=b'{"id": 1}')
        await conda.put(envelope("d", conda_row(1, "ONGOING"), None), key=b'{"id": 1}')
        await conda.put(None, key=b'{"id": 1}')  # tombstone
        await conda.put(envelope("u", conda_row(2, "ONGOING"), conda_row(2, "FAILED")), key=b'{"id": 2}')
        await conda.put(b"not json", key=b'{"id": 3}')
        await agents.queue.join()
    assert [call[2] for call in builder.calls] == ["1"]
    assert [(p, r.image) for p, r in records] == [("demo", "r:1/demo/demo:1")]
    assert [letter["reason"] for letter in letters] == ["bad_command"]


async def test_project_deletion_queues_removal(wired) -> None:
    agents, _, _, records = wired
    removed: list[str] = []

    class Remover:
        async def remove_environment(self, project: str) -> int:
            removed.append(project)
            return 1

    agents.service.remover = Remover()
    async with agents.agents["images-projects"].test_context() as projects:
        await projects.put(envelope("c", None, project_row(8, "Gone")), key=b'{"id": 8}')
        await projects.put(envelope("d", project_row(8, "Gone"), None), key=b'{"id": 8}')
        await agents.queue.join()
    assert removed == ["gone"] and records == [("gone", None)]


def test_parse_conda_event() -> None:
    wrapped = json.dumps({"schema": {}, "payload": {"op": "d", "before": {"id": 1}, "after": None}}).encode()
    assert parse_conda_event(wrapped) == ("d", {"id": 1}, None)
    assert parse_conda_event(None) is None
    with pytest.raises(TerminalImageError):
        parse_conda_event(b'{"op": "x"}')


def test_disabled_without_builder(tmp_path: Path) -> None:
    app = faust.App("hopsharbor-images-off", broker="kafka://127.0.0.1:1", autodiscover=False)
    assert register_image_agents(app, Settings(data_dir=tmp_path), config=ImageConfig(enabled=False)) is None
