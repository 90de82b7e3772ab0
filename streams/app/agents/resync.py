"""Full resync: every key of the desired state reconciled again, to undo changes made by hand in
Harbor (drift) and to finish work a crash interrupted.

Runs once when the worker has recovered its tables (an app task: Faust starts those after table
recovery; in-memory retries and
offsets committed before their reconcile finished are redone here) and then every
`interval` seconds (0 = never). A resync that is still running when the timer fires again is
not started twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import faust

from streams.app.records import Origin
from streams.app.runner import KeyedRunner
from streams.mapping import Mirror

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(
    app: faust.App, mirror: Mirror, runner: KeyedRunner, *, interval: float, on_start: bool
) -> Callable[[str], Awaitable[dict[str, int]]]:
    lock = asyncio.Lock()

    async def resync(cause: str) -> dict[str, int]:
        if lock.locked():
            return {}
        async with lock:
            keys = mirror.resync_keys()
            counts = await runner.resync(keys, Origin(cause=cause))  # type: ignore[arg-type]
            log.info("%s resync of %d keys: %s", cause, len(keys), counts)
            return counts

    if interval > 0:

        async def periodic() -> None:
            await resync("resync")

        app.timer(interval, name="hopsharbor.resync")(periodic)

    if on_start:

        async def startup() -> None:
            await resync("start")

        app.task(startup)
    return resync
