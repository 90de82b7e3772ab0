"""Dead-letter records of the image pipeline: a command that cannot become an image.

Built by the build service when a command fails terminally (BuildFailed, denied, unsupported…)
and handed to a `send(key, value)` coroutine: the worker passes the producer of its DLQ topic,
tests pass a list's append. The record carries the tail of the build log so that the reason is
visible without dockerd's logs. A failure to send propagates (the command is then retried).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from streams.images.commands import CondaCommand
from streams.images.errors import ImageError

__all__ = ["DeadLetterSend", "dead_letter_record", "send_dead_letter", "SOURCE", "STAGE"]

SOURCE = "images"
STAGE = "image"
DeadLetterSend = Callable[[bytes, bytes], Awaitable[Any]]


def dead_letter_record(
    command: CondaCommand | None, project: str | None, error: ImageError, *, at: float | None = None
) -> dict[str, Any]:
    """Shaped like the worker's own dead letters (streams.app.records.DeadLetter: stage, reason,
    error, key, at) with stage "image", plus the command, the project and the build log tail."""
    return {
        "stage": STAGE,
        "source": SOURCE,
        "reason": error.reason,
        "error": error.message,
        "key": f"project/{project}" if project else None,
        "project": project,
        "command": command.model_dump() if command is not None else None,
        "log_tail": error.log_tail,
        "at": time.time() if at is None else at,
    }


async def send_dead_letter(send: DeadLetterSend, record: dict[str, Any]) -> None:
    command = record.get("command") or {}
    key = json.dumps({"table": "conda_commands", "id": command.get("id")}, sort_keys=True).encode()
    await send(key, json.dumps(record, sort_keys=True, default=str).encode())
