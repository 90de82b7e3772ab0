"""Environment images against the real dockerd and the plain local registry (no auth).

Builds FROM the stack's base image with a local wheel (no package index, network none), pushes
to 127.0.0.1:$REGISTRY_PORT, and runs the images to see the library present, then absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest

from streams.images.builder import ImageBuilder
from streams.images.buildqueue import BuildQueue, Job
from streams.images.commands import CondaCommand
from streams.images.config import ImageConfig
from streams.images.credentials import AnonymousCredentials
from streams.images.lifecycle import Action, follow
from streams.images.projects import ProjectDirectory
from streams.images.registry import RegistryClient
from streams.images.service import ImageService
from streams.images.state import MemoryImageStore
from tests.conftest import Stack

pytestmark = pytest.mark.integration

PROJECT_ID = 7
PROBE = "import importlib.util; print(importlib.util.find_spec('hhprobe') is not None)"


def config(stack: Stack, wheel_dir: Path) -> ImageConfig:
    return ImageConfig(
        docker_host=stack.docker_host,
        registry=f"127.0.0.1:{stack.port('registry')}",
        base_image=stack.env["BASE_IMAGE"],
        wheel_dir=wheel_dir,
        pip_args="--no-index --find-links /wheels",
        network_mode="none",
        anonymous_push=True,
        retry_attempts=1,
        project_wait=1.0,
    )


def deleted(id: int, op: str, lib: str | None = "hhprobe", version: str | None = "1.0") -> dict[str, Any]:
    """The before image of a successful command's DELETE (status still ONGOING)."""
    return {
        "id": id,
        "project_id": PROJECT_ID,
        "op": op,
        "status": "ONGOING",
        "lib": lib,
        "version": version,
        "install_type": "PIP",
        "created": 1700000000000 + id,
        "user_id": 1,
    }


class Pipeline:
    """The service, its queue and what it dead-lettered: one worker's worth of image pipeline."""

    def __init__(self, cfg: ImageConfig, client: docker.DockerClient, project: str) -> None:
        self.registry = RegistryClient(f"http://{cfg.registry}")
        self.builder = ImageBuilder(client, self.registry, network_mode=cfg.network_mode)
        self.results: list[Any] = []
        original = self.builder.build_and_push

        def recording(*args: Any) -> Any:
            result = original(*args)
            self.results.append(result)
            return result

        self.builder.build_and_push = recording  # type: ignore[method-assign]
        self.letters: list[dict[str, Any]] = []
        directory = ProjectDirectory()
        directory.set(PROJECT_ID, project)
        self.store = MemoryImageStore()

        async def send(key: bytes, value: bytes) -> None:
            self.letters.append(json.loads(value))

        self.service = ImageService(
            cfg, self.builder, directory, self.store, AnonymousCredentials(), dead_letter=send
        )

    async def run(self, events: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]) -> None:
        queue = BuildQueue(self.service.handle, max_parallel=2)
        for op, before, after in events:
            decision = follow(op, before, after)
            if decision.action in (Action.BUILD, Action.BASE) and isinstance(decision.command, CondaCommand):
                queue.submit(Job(decision.command.id, PROJECT_ID, decision.action, decision.command))
        await queue.join()


def has_probe(client: docker.DockerClient, image: str) -> bool:
    out = client.containers.run(image, ["python", "-c", PROBE], network_mode="none", remove=True)
    return out.decode().strip() == "True"


def cleanup(client: docker.DockerClient, images: list[str]) -> None:
    for image in images:
        try:
            client.images.remove(image, force=True)
        except docker.errors.ImageNotFound:
            pass


async def test_install_then_uninstall_then_replay_builds_nothing(
    stack: Stack, docker_client: docker.DockerClient, wheel_dir: Path, project_name: str
) -> None:
    stack.require("registry")
    cfg = config(stack, wheel_dir)
    events = [
        ("d", deleted(1, "INSTALL"), None),
        ("u", deleted(2, "INSTALL", "nothing"), {**deleted(2, "INSTALL", "nothing"), "status": "FAILED"}),
        ("d", deleted(3, "UNINSTALL", version=None), None),
    ]
    first = Pipeline(cfg, docker_client, project_name)
    await first.run(events)
    images = [r.ref for r in first.results]
    try:
        assert [r.built for r in first.results] == [True, True]
        assert first.letters == []
        installed, uninstalled = images
        assert installed.endswith(f"/{project_name}/{project_name}:1700000000001-4.0.0.1")
        assert has_probe(docker_client, installed) is True
        assert has_probe(docker_client, uninstalled) is False
        record = first.store.get(project_name)
        assert record is not None and record.image == uninstalled and record.digest == first.results[1].digest
        # Only the new layer travels: the base layers were already in the registry.
        assert 0 < first.results[0].pushed_bytes < 5_000_000

        # Replay with the same worker state: nothing even asked of the registry.
        await first.run(events)
        assert len(first.results) == 2
        # Replay on a fresh worker (state lost): the tags are found, nothing is built.
        second = Pipeline(cfg, docker_client, project_name)
        await second.run(events)
        assert [(r.built, r.ref, r.digest) for r in second.results] == [
            (False, r.ref, r.digest) for r in first.results
        ]
    finally:
        cleanup(docker_client, images)


async def test_failed_build_is_dead_lettered_and_the_next_command_builds(
    stack: Stack, docker_client: docker.DockerClient, wheel_dir: Path, project_name: str
) -> None:
    stack.require("registry")
    cfg = config(stack, wheel_dir)
    pipeline = Pipeline(cfg, docker_client, project_name)
    await pipeline.run(
        [
            ("d", deleted(10, "INSTALL", "hhmissing", "9.9"), None),
            ("d", deleted(11, "INSTALL"), None),
        ]
    )
    images = [r.ref for r in pipeline.results]
    try:
        assert len(pipeline.letters) == 1
        letter = pipeline.letters[0]
        assert letter["reason"] == "build_failed" and letter["command"]["id"] == 10
        assert "hhmissing" in letter["log_tail"]
        assert [r.built for r in pipeline.results] == [True]
        assert has_probe(docker_client, images[0]) is True
    finally:
        cleanup(docker_client, images)
