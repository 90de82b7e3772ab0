"""Per-project order, cross-project parallelism bound, failures not stopping a project's queue."""

from __future__ import annotations

import asyncio

import pytest

from streams.images.buildqueue import BuildQueue, Job
from streams.images.lifecycle import Action

pytestmark = pytest.mark.unit


async def test_one_project_in_command_order_and_bounded_parallelism() -> None:
    running: set[int] = set()
    peak = 0
    order: dict[int, list[int]] = {}
    depths: list[int] = []

    async def handler(job: Job) -> None:
        nonlocal peak
        assert job.project_id not in running, "two jobs of one project at once"
        running.add(job.project_id)
        peak = max(peak, len(running))
        await asyncio.sleep(0.01)
        order.setdefault(job.project_id, []).append(job.seq)
        running.discard(job.project_id)

    queue = BuildQueue(handler, max_parallel=2, on_depth=depths.append)
    # Commands of one project submitted out of order (as from several partitions) run in id order.
    for project in (1, 2, 3, 4):
        for seq in (30, 10, 20):
            queue.submit(Job(seq=seq + project, project_id=project, action=Action.BUILD))
    await asyncio.wait_for(queue.join(), 5)
    assert order == {p: [10 + p, 20 + p, 30 + p] for p in (1, 2, 3, 4)}
    assert peak == 2
    assert max(depths) == 12 and queue.depth == 0 and depths[-1] == 0


async def test_failure_does_not_stop_the_queue_and_done_runs_once_per_job() -> None:
    seen: list[int] = []
    acked: list[int] = []

    async def handler(job: Job) -> None:
        seen.append(job.seq)
        if job.seq == 1:
            raise RuntimeError("boom")

    queue = BuildQueue(handler, max_parallel=1)
    for seq in (1, 2):
        queue.submit(Job(seq=seq, project_id=9, action=Action.BUILD, done=lambda s=seq: acked.append(s)))
    # A duplicate of a queued command (a replayed event) is acknowledged without running again.
    queue.submit(Job(seq=2, project_id=9, action=Action.BUILD, done=lambda: acked.append(-2)))
    await asyncio.wait_for(queue.join(), 5)
    assert seen == [1, 2]
    assert sorted(acked) == [-2, 1, 2]
