"""Faust wiring of the image pipeline: agents over conda_commands, project and image records.

`register_image_agents` is called once by the worker's app factory (streams.app.app.create_app),
before the app starts. It does nothing unless images are enabled (HOPSHARBOR_IMAGE_ENABLED=true)
or a builder is passed. Agents:
- `hopsharbor.images.conda`: each conda_commands change -> lifecycle.follow -> a Job in the
  project's queue. Events are acknowledged only when their job is done (built, found, or
  dead-lettered), so the consumer offset never passes an image that is not in the registry.
- `hopsharbor.images.projects`: project rows -> ProjectDirectory (id -> Harbor name); a deleted
  project queues the removal of its environment repositories after its pending builds.
- `hopsharbor.images.records`: the compacted image-records topic -> the `images` table (the
  project's current image and digest, recovered on restart; `ProjectState.image` comes from it).
A record that is not a change event is dead-lettered and acknowledged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import StreamT, TopicT

from streams.images import metrics
from streams.images.builder import ImageBuilder
from streams.images.buildqueue import PROJECT_DELETED_SEQ, BuildQueue, Job
from streams.images.config import ImageConfig
from streams.images.credentials import AnonymousCredentials, CredentialSource, RobotCredentials
from streams.images.dlq import DeadLetterSend, dead_letter_record, send_dead_letter
from streams.images.errors import ImageError, TerminalImageError
from streams.images.lifecycle import Action, follow
from streams.images.projects import ProjectDirectory, apply_project_event
from streams.images.repositories import RepositoryRemover
from streams.images.service import ImageService
from streams.images.state import ImageRecord
from streams.mapping.events import MalformedEvent, parse_change_event
from streams.settings import Settings

__all__ = ["ImageAgents", "TableImageStore", "parse_conda_event", "register_image_agents", "make_builder"]

log = logging.getLogger(__name__)

RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


def parse_conda_event(value: bytes | None) -> tuple[str, Any, Any] | None:
    """(op, before, after) of a conda_commands CDC record; None for a tombstone.

    Raises TerminalImageError("bad_command") for anything that is not a change envelope."""
    if value is None:
        return None
    try:
        doc = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TerminalImageError("bad_command", f"conda_commands record is not JSON: {exc}") from None
    if isinstance(doc, dict) and "payload" in doc and "schema" in doc:
        doc = doc["payload"]
    if doc is None:
        return None
    if not isinstance(doc, dict) or doc.get("op") not in ("c", "u", "d", "r"):
        raise TerminalImageError("bad_command", "conda_commands record is not a change event")
    return str(doc["op"]), doc.get("before"), doc.get("after")


class TableImageStore:
    """ImageStateStore over the `images` table (JSON by project), with this process's own
    writes laid over it until they come back through the records topic."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self.table = table
        self._overlay: dict[str, ImageRecord | None] = {}

    def get(self, project: str) -> ImageRecord | None:
        if project in self._overlay:
            return self._overlay[project]
        raw = self.table.get(project)
        return ImageRecord.model_validate_json(raw) if raw else None

    def put(self, record: ImageRecord) -> None:
        self._overlay[record.project] = record

    def delete(self, project: str) -> None:
        self._overlay[project] = None


@dataclass
class ImageAgents:
    config: ImageConfig
    service: ImageService
    queue: BuildQueue
    directory: ProjectDirectory
    store: TableImageStore
    agents: dict[str, Any] = field(default_factory=dict)


def make_builder(config: ImageConfig) -> ImageBuilder:
    """The real builder: dockerd at config.docker_host, the registry at config.registry."""
    import docker

    from streams.images.registry import RegistryClient

    client = docker.DockerClient(base_url=config.docker_host, timeout=int(config.build_timeout))
    registry = RegistryClient(f"{config.registry_scheme}://{config.registry}")
    return ImageBuilder(
        client, registry, network_mode=config.network_mode, log_tail_lines=config.log_tail_lines
    )


def _default_credentials(settings: Settings, config: ImageConfig) -> CredentialSource:
    if config.anonymous_push:
        return AnonymousCredentials()
    from streams.secrets import DirectorySecretStore

    return RobotCredentials(
        DirectorySecretStore(settings.robot_secrets_dir), config.push_robot, config.robot_prefix
    )


def register_image_agents(
    app: faust.App,
    settings: Settings,
    builder: ImageBuilder | None = None,
    *,
    config: ImageConfig | None = None,
    project_rows: Mapping[str, Any] | None = None,
    dead_letter_topic: TopicT | None = None,
    dead_letter: DeadLetterSend | None = None,
    remover: RepositoryRemover | None = None,
    credentials: CredentialSource | None = None,
    record_sink: Callable[[str, ImageRecord | None], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.time,
) -> ImageAgents | None:
    """Add the image agents to `app`. `project_rows`: the worker's table of project rows by id
    (A's `tables.projects`), so names survive a restart; `dead_letter_topic`: the worker's DLQ
    topic (or pass `dead_letter`, a send(key, value) coroutine); `record_sink` replaces the send
    to the image-records topic (unit tests have no broker). Returns None when disabled."""
    config = config or ImageConfig()
    if builder is None:
        if not config.enabled:
            return None
        builder = make_builder(config)
    mapping = settings.mapping_config()
    directory = ProjectDirectory(project_rows, mapping)
    records_topic = app.topic(config.records_topic, internal=True, compacting=True, partitions=1, **RAW)
    table = app.Table(
        "images", key_type=str, value_type=None, partitions=1, help="project -> ImageRecord JSON"
    )
    store = TableImageStore(table)

    if dead_letter is None and dead_letter_topic is not None:
        topic = dead_letter_topic

        async def send_to_topic(key: bytes, value: bytes) -> None:
            await topic.send(key=key, value=value)

        dead_letter = send_to_topic

    async def recorded(project: str, record: ImageRecord | None) -> None:
        value = None if record is None else record.model_dump_json().encode()
        await records_topic.send(key=project.encode(), value=value)

    if remover is None and not config.anonymous_push:
        remover = _LazyHarborRemover(settings, config)
    service = ImageService(
        config,
        builder,
        directory,
        store,
        credentials or _default_credentials(settings, config),
        remover=remover,
        dead_letter=dead_letter,
        on_recorded=record_sink or recorded,
    )
    queue = BuildQueue(
        service.handle, max_parallel=config.max_parallel_builds, on_depth=metrics.IMAGE_BUILD_QUEUE_DEPTH.set
    )
    metrics.IMAGE_BUILD_QUEUE_DEPTH.set(0)

    async def reject(error: ImageError, raw: bytes | None) -> None:
        metrics.IMAGE_BUILD_FAILURES.labels(reason=error.reason).inc()
        if dead_letter is not None:
            record = dead_letter_record(None, None, error, at=clock())
            record["raw_value"] = (raw or b"").decode("utf-8", "replace")
            await send_dead_letter(dead_letter, record)

    async def conda(stream: StreamT) -> None:
        async for event in stream.noack().events():  # type: ignore[attr-defined]
            try:
                parsed = parse_conda_event(event.message.value)
                decision = follow(*parsed) if parsed is not None else None
            except TerminalImageError as exc:
                await reject(exc, event.message.value)
                event.ack()
                continue
            if (
                decision is None
                or decision.command is None
                or decision.action in (Action.IGNORE, Action.FAILED)
            ):
                if decision is not None and decision.action == Action.FAILED:
                    log.info("conda command %s failed in Hopsworks: no image", decision.command.describe())  # type: ignore[union-attr]
                event.ack()
                continue
            command = decision.command
            queue.submit(Job(command.id, command.project_id, decision.action, command, done=event.ack))

    async def projects(stream: StreamT) -> None:
        async for event in stream.events():
            try:
                change = parse_change_event("project", event.message.key, event.message.value)
            except MalformedEvent:
                continue  # A's ingest agent dead-letters it
            if change is None:
                continue
            gone = apply_project_event(directory, change, mapping)
            if gone is not None:
                row_id = int(change.row["id"])
                queue.submit(Job(PROJECT_DELETED_SEQ, row_id, Action.REMOVE, None, project_name=gone))

    async def records(stream: StreamT) -> None:
        async for event in stream.events():
            key = event.message.key.decode() if event.message.key else ""
            if not key:
                continue
            if event.message.value is None:
                table.pop(key, None)
            else:
                table[key] = event.message.value.decode()

    conda_topic = app.topic(settings.cdc_topic(config.conda_table), **RAW)
    project_topic = app.topic(settings.cdc_topic("project"), **RAW)
    agents = {
        "images-conda": app.agent(conda_topic, name="hopsharbor.images.conda", concurrency=1)(conda),
        "images-projects": app.agent(project_topic, name="hopsharbor.images.projects", concurrency=1)(
            projects
        ),
        "images-records": app.agent(records_topic, name="hopsharbor.images.records", concurrency=1)(records),
    }

    async def close_queue(sender: Any, **kwargs: Any) -> None:
        await queue.close()

    app.on_before_shutdown.connect(close_queue)  # type: ignore[arg-type]
    return ImageAgents(config, service, queue, directory, store, agents)


class _LazyHarborRemover:
    """HarborRepositoryRemover on a HarborClient opened at first use (in the worker's loop)."""

    def __init__(self, settings: Settings, config: ImageConfig) -> None:
        self.settings = settings
        self.config = config
        self._remover: RepositoryRemover | None = None

    async def remove_environment(self, project: str) -> int:
        if self._remover is None:
            from streams.harbor import HarborClient
            from streams.images.repositories import HarborRepositoryRemover

            client = HarborClient(
                self.settings.harbor_url, self.settings.harbor_user, self.settings.harbor_secret()
            )
            self._remover = HarborRepositoryRemover(client, self.config)
        return await self._remover.remove_environment(project)
