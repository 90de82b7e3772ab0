"""The build service over a fake builder (the builder is its seam to Docker)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.images.builder import BuildResult
from streams.images.buildqueue import BuildQueue, Job
from streams.images.commands import CondaCommand
from streams.images.config import ImageConfig
from streams.images.credentials import AnonymousCredentials
from streams.images.dockerfile import BuildContext
from streams.images.errors import BuildFailed, RetriableImageError
from streams.images.lifecycle import Action
from streams.images.naming import ImageRef
from streams.images.projects import ProjectDirectory
from streams.images.registry import RegistryAuth
from streams.images.service import ImageService
from streams.images.state import MemoryImageStore

pytestmark = pytest.mark.unit


class FakeBuilder:
    """Records (parent, first step, ref); a registry of refs already pushed; scripted failures."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.registry: set[str] = set()
        self.failures: dict[str, list[Exception]] = {}

    def build_and_push(
        self, parent: str, context: BuildContext, ref: ImageRef, auth: RegistryAuth | None
    ) -> BuildResult:
        if str(ref) in self.registry:
            return BuildResult(ref=str(ref), digest=f"sha256:{ref.tag}", built=False)
        if self.failures.get(str(ref)):
            raise self.failures[str(ref)].pop(0)
        step = context.dockerfile.splitlines()[1]
        self.calls.append((parent, step, ref.tag))
        self.registry.add(str(ref))
        return BuildResult(ref=str(ref), digest=f"sha256:{ref.tag}", built=True, pushed_bytes=10)


def cmd(id: int, op: str = "INSTALL", lib: str | None = "six", project_id: int = 7) -> CondaCommand:
    return CondaCommand(
        id=id, project_id=project_id, op=op, status="ONGOING", lib=lib, version="1.0", created=1000
    )


CONFIG = ImageConfig(
    registry="r:1", tag_template="{command_id}", base_image="base:1", project_wait=0.05, anonymous_push=True
)


def make(
    builder: FakeBuilder, store: MemoryImageStore | None = None
) -> tuple[ImageService, list[dict[str, Any]]]:
    letters: list[dict[str, Any]] = []

    async def send(key: bytes, value: bytes) -> None:
        letters.append(json.loads(value))

    async def no_sleep(_: float) -> None:
        return None

    directory = ProjectDirectory()
    directory.set(7, "demo")
    service = ImageService(
        CONFIG,
        builder,
        directory,
        store or MemoryImageStore(),
        AnonymousCredentials(),  # type: ignore[arg-type]
        dead_letter=send,
        sleep=no_sleep,
    )
    return service, letters


async def run(service: ImageService, jobs: list[Job]) -> None:
    queue = BuildQueue(service.handle, max_parallel=2)
    for job in jobs:
        queue.submit(job)
    await queue.join()


def job(command: CondaCommand, action: Action = Action.BUILD) -> Job:
    return Job(seq=command.id, project_id=command.project_id, action=action, command=command)


async def test_chain_of_builds_each_from_the_previous_image() -> None:
    builder = FakeBuilder()
    store = MemoryImageStore()
    service, letters = make(builder, store)
    await run(service, [job(cmd(1, "CREATE", None), Action.BASE), job(cmd(2)), job(cmd(3, "UNINSTALL"))])
    assert builder.calls == [
        (
            "base:1",
            "LABEL org.hopsharbor.command=1 org.hopsharbor.op=CREATE org.hopsharbor.project=demo",
            "1",
        ),
        ("r:1/demo/demo:1", "RUN pip install --upgrade six==1.0", "2"),
        ("r:1/demo/demo:2", "RUN pip uninstall -y six", "3"),
    ]
    record = store.get("demo")
    assert record is not None and record.reference == "r:1/demo/demo:3@sha256:3" and record.command_id == 3
    assert letters == []


async def test_replay_builds_nothing_with_or_without_state() -> None:
    builder = FakeBuilder()
    store = MemoryImageStore()
    service, _ = make(builder, store)
    jobs = [job(cmd(1, "CREATE", None), Action.BASE), job(cmd(2))]
    await run(service, jobs)
    built = list(builder.calls)
    await run(service, jobs)  # same worker state: skipped by command id
    fresh, _ = make(builder)  # state lost (new worker): the registry has the tags
    await run(fresh, jobs)
    assert builder.calls == built


async def test_failed_build_dead_lettered_and_next_command_still_builds() -> None:
    builder = FakeBuilder()
    builder.failures["r:1/demo/demo:2"] = [
        BuildFailed("exit code 1", log_tail="ERROR: No matching distribution")
    ]
    service, letters = make(builder)
    await run(service, [job(cmd(2, lib="nope")), job(cmd(3))])
    assert [call[2] for call in builder.calls] == ["3"]
    assert builder.calls[0][0] == "base:1"  # the failed command left the project's image unchanged
    assert len(letters) == 1
    assert letters[0]["reason"] == "build_failed" and "No matching distribution" in letters[0]["log_tail"]
    assert letters[0]["command"]["id"] == 2 and letters[0]["project"] == "demo"


async def test_retriable_failure_is_retried() -> None:
    builder = FakeBuilder()
    builder.failures["r:1/demo/demo:2"] = [RetriableImageError("registry_unreachable", "down")] * 2
    service, letters = make(builder)
    await run(service, [job(cmd(2))])
    assert [call[2] for call in builder.calls] == ["2"] and letters == []


async def test_unknown_project_and_unsupported_are_dead_lettered() -> None:
    builder = FakeBuilder()
    service, letters = make(builder)
    await run(service, [job(cmd(2, project_id=99)), job(cmd(3, "IMPORT"), Action.UNSUPPORTED)])
    assert sorted(letter["reason"] for letter in letters) == ["unknown_project", "unsupported_op"]
    assert builder.calls == []


async def test_remove_spares_a_new_project_that_took_the_name() -> None:
    removed: list[str] = []

    class Remover:
        async def remove_environment(self, project: str) -> int:
            removed.append(project)
            return 1

    service, _ = make(FakeBuilder())
    service.remover = Remover()
    await run(service, [Job(seq=5, project_id=3, action=Action.REMOVE, project_name="demo")])  # demo is 7 now
    await run(service, [Job(seq=6, project_id=7, action=Action.REMOVE, project_name="demo")])
    assert removed == ["demo"]


async def test_remove_of_a_project_already_gone_uses_the_image_name() -> None:
    removed: list[str] = []

    class Remover:
        async def remove_environment(self, project: str) -> int:
            removed.append(project)
            return 1

    service, letters = make(FakeBuilder())
    service.remover = Remover()
    remove = CondaCommand(
        id=9, project_id=55, op="REMOVE", status="NEW", arg="Old_Proj:1700000000000-4.0.0.3"
    )
    await run(service, [Job(seq=9, project_id=55, action=Action.REMOVE, command=remove)])
    assert removed == ["old_proj"] and letters == []
