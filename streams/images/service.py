"""The build service: what one queued job does (build, skip, remove, dead-letter).

`ImageService.handle` is the BuildQueue's handler, called once per job, one job per project at a
time. For a build it
  1. finds the project's Harbor name (waiting a little for the project row; else dead letter);
  2. skips the command when the project's image is already at or past it (a replay);
  3. picks the parent: the configured base for CREATE / SYNC_BASE_ENV or a project without an
     image yet, otherwise the project's current image;
  4. renders the Dockerfile and the tag (a function of the command) and runs
     ImageBuilder.build_and_push in a thread, with the project's push robot;
  5. records the new image and digest (state store, then `on_recorded(project, record)`, which
     the worker sends to its compacted image-records topic; None when the project is removed).
Retriable failures back off and try again (the project's queue waits); terminal failures
become a dead-letter record and a metric, and the queue goes on with the next command.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from streams.images import metrics
from streams.images.builder import BuildResult, ImageBuilder
from streams.images.buildqueue import Job
from streams.images.commands import CondaCommand
from streams.images.config import ImageConfig
from streams.images.credentials import CredentialSource
from streams.images.dlq import DeadLetterSend, dead_letter_record, send_dead_letter
from streams.images.dockerfile import render_build
from streams.images.errors import TERMINAL_REASONS, ImageError, RetriableImageError, TerminalImageError
from streams.images.lifecycle import Action
from streams.images.naming import image_ref
from streams.images.projects import ProjectDirectory
from streams.images.repositories import RepositoryRemover
from streams.images.state import ImageRecord, ImageStateStore

__all__ = ["ImageService"]

log = logging.getLogger(__name__)


class ImageService:
    def __init__(
        self,
        config: ImageConfig,
        builder: ImageBuilder,
        directory: ProjectDirectory,
        store: ImageStateStore,
        credentials: CredentialSource,
        *,
        remover: RepositoryRemover | None = None,
        dead_letter: DeadLetterSend | None = None,
        on_recorded: Callable[[str, ImageRecord | None], Awaitable[None]] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.builder = builder
        self.directory = directory
        self.store = store
        self.credentials = credentials
        self.remover = remover
        self.dead_letter = dead_letter
        self.on_recorded = on_recorded
        self.sleep = sleep
        for result in metrics.BUILD_RESULTS:
            metrics.IMAGE_BUILDS.labels(result=result)
        for reason in TERMINAL_REASONS:
            metrics.IMAGE_BUILD_FAILURES.labels(reason=reason)

    async def handle(self, job: Job) -> None:
        project = job.project_name
        try:
            if project is None and job.action == Action.REMOVE and job.command is not None:
                # REMOVE rows outlive their project: the image name in `arg` names it.
                project = self.directory.name(job.project_id) or self.directory.name_from_image(
                    job.command.arg
                )
            if project is None:
                project = await self._project_name(job.project_id)
            if job.action in (Action.BUILD, Action.BASE):
                assert job.command is not None
                await self._retrying(lambda: self._build(project, job.command, job.action))  # type: ignore[arg-type]
            elif job.action == Action.REMOVE:
                await self._retrying(lambda: self._remove(project, job))
            elif job.action == Action.UNSUPPORTED:
                raise TerminalImageError(
                    "unsupported_op", f"{job.command and job.command.op} is not reproducible"
                )
        except TerminalImageError as exc:
            await self._fail(job.command, project, exc)

    async def _project_name(self, project_id: int) -> str:
        name = await self.directory.wait_name(project_id, self.config.project_wait)
        if name is None:
            raise TerminalImageError("unknown_project", f"no project row with id {project_id}")
        return name

    async def _retrying(self, attempt: Callable[[], Awaitable[None]]) -> None:
        delay = self.config.retry_initial
        tries = 0
        while True:
            tries += 1
            try:
                return await attempt()
            except RetriableImageError as exc:
                if self.config.retry_attempts and tries >= self.config.retry_attempts:
                    raise TerminalImageError(
                        exc.reason, f"gave up after {tries} attempts: {exc.message}"
                    ) from None
                log.warning("image step failed (%s), retrying in %.1f s", exc, delay)
                await self.sleep(delay)
                delay = min(delay * 2, self.config.retry_max)

    async def _build(self, project: str, command: CondaCommand, action: Action) -> None:
        current = self.store.get(project)
        if current is not None and current.command_id >= command.id:
            metrics.IMAGE_BUILDS.labels(result="skipped").inc()
            log.info(
                "project %s already at command %s: %s not rebuilt",
                project,
                current.command_id,
                command.describe(),
            )
            return
        parent = self.config.base_image if action == Action.BASE or current is None else current.image
        ref = image_ref(project, command, self.config)
        context = render_build(parent, project, command, self.config)
        auth = None if self.config.anonymous_push else self.credentials.push_auth(project)
        result: BuildResult = await asyncio.to_thread(self.builder.build_and_push, parent, context, ref, auth)
        if result.built:
            metrics.IMAGE_BUILDS.labels(result="built").inc()
            metrics.IMAGE_BUILD_DURATION.observe(result.build_seconds)
            metrics.IMAGE_PUSH_DURATION.observe(result.push_seconds)
            metrics.IMAGE_PUSHED_BYTES.inc(result.pushed_bytes)
            log.info("built %s for %s (%d bytes pushed)", result.ref, command.describe(), result.pushed_bytes)
        else:
            metrics.IMAGE_BUILDS.labels(result="exists").inc()
        record = ImageRecord(project=project, image=result.ref, digest=result.digest, command_id=command.id)
        self.store.put(record)
        if self.on_recorded is not None:
            await self.on_recorded(project, record)

    async def _remove(self, project: str, job: Job) -> None:
        live = self.directory.id_of(project)
        if live is not None and live != job.project_id:
            log.info("not removing %s: the name now belongs to project %s", project, live)
            return
        deleted = await self.remover.remove_environment(project) if self.remover is not None else 0
        self.store.delete(project)
        if self.on_recorded is not None:
            await self.on_recorded(project, None)
        log.info("removed %d environment repositories of %s", deleted, project)

    async def _fail(self, command: CondaCommand | None, project: str | None, error: ImageError) -> None:
        metrics.IMAGE_BUILDS.labels(result="failed").inc()
        metrics.IMAGE_BUILD_FAILURES.labels(reason=error.reason).inc()
        log.error("image command %s of %s dead-lettered: %s", command and command.describe(), project, error)
        if self.dead_letter is not None:
            await send_dead_letter(self.dead_letter, dead_letter_record(command, project, error))
