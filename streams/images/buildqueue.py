"""Per-project ordered build queue with bounded parallelism across projects.

The image agent `submit`s one Job per decision; each project has its own heap (ordered by
command id: a replay may deliver a project's commands from several partitions out of order)
and its own worker task, which runs the handler for one job at a time. A semaphore bounds how
many projects build at once. The handler owns retries and dead-lettering: an exception that
still escapes it is logged and the project's queue goes on. `Job.done` is called after the
handler returns, whatever happened (the agent acks the Kafka event there, so the offset is
committed only once the image is in the registry or the command is dead-lettered).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from streams.images.commands import CondaCommand
from streams.images.lifecycle import Action

__all__ = ["Job", "BuildQueue", "PROJECT_DELETED_SEQ"]

log = logging.getLogger(__name__)

PROJECT_DELETED_SEQ = 2**62  # a project row deletion sorts after every command of the project


@dataclass(order=True)
class Job:
    seq: int  # the command id (order within a project)
    project_id: int = field(compare=False)
    action: Action = field(compare=False)
    command: CondaCommand | None = field(default=None, compare=False)
    project_name: str | None = field(default=None, compare=False)  # known for project deletions
    done: Callable[[], object] | None = field(default=None, compare=False, repr=False)


class BuildQueue:
    def __init__(
        self,
        handler: Callable[[Job], Awaitable[None]],
        *,
        max_parallel: int,
        on_depth: Callable[[int], None] = lambda depth: None,
    ) -> None:
        self.handler = handler
        self.on_depth = on_depth
        self._limit = asyncio.Semaphore(max_parallel)
        self._heaps: dict[int, list[Job]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._depth = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def depth(self) -> int:
        return self._depth

    def submit(self, job: Job) -> None:
        """Queue `job` behind the project's earlier commands (duplicates of a queued one are dropped)."""
        heap = self._heaps.setdefault(job.project_id, [])
        if any(queued.seq == job.seq and queued.action == job.action for queued in heap):
            if job.done is not None:
                job.done()
            return
        heapq.heappush(heap, job)
        self._set_depth(self._depth + 1)
        worker = self._workers.get(job.project_id)
        if worker is None or worker.done():
            self._workers[job.project_id] = asyncio.get_running_loop().create_task(
                self._run(job.project_id), name=f"image-builds-{job.project_id}"
            )

    def _set_depth(self, depth: int) -> None:
        self._depth = depth
        self.on_depth(depth)
        if depth == 0:
            self._idle.set()
        else:
            self._idle.clear()

    async def _run(self, project_id: int) -> None:
        heap = self._heaps[project_id]
        while heap:
            job = heapq.heappop(heap)
            try:
                async with self._limit:
                    await self.handler(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad job must not stop the project's queue
                log.exception("image job %s of project %s failed", job.seq, project_id)
            finally:
                if job.done is not None:
                    job.done()
                self._set_depth(self._depth - 1)
        self._heaps.pop(project_id, None)
        self._workers.pop(project_id, None)

    async def join(self) -> None:
        """Wait until every queued job has run."""
        await self._idle.wait()

    async def close(self) -> None:
        for task in list(self._workers.values()):
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        self._workers.clear()
