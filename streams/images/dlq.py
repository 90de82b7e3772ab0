"""Dead-letter records of the image pipeline: a command that cannot become an image.

Built by the build service when a command fails terminally (BuildFailed, denied, unsupported…)
and handed to a `send(key, value)` coroutine: the worker passes the producer of its DLQ topic,
tests pass a list's append. The record carries the tail of the build log so that the reason is
visible without dockerd's logs. A failure to send propagates (the command is then retried).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from streams.images.commands import CondaCommand
from streams.images.errors import ImageError

__all__ = ["DeadLetterSend", "dead_letter_record", "send_dead_letter", "SOURCE"]

SOURCE = "images"
DeadLetterSend = Callable[[bytes, bytes], Awaitable[Any]]


def dead_letter_record(
    command: CondaCommand | None, project: str | None, error: ImageError
) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "table": "conda_commands",
        "reason": error.reason,
        "message": error.message,
        "project": project,
        "command": command.model_dump() if command is not None else None,
        "log_tail": error.log_tail,
    }


async def send_dead_letter(send: DeadLetterSend, record: dict[str, Any]) -> None:
    command = record.get("command") or {}
    key = json.dumps({"table": "conda_commands", "id": command.get("id")}, sort_keys=True).encode()
    await send(key, json.dumps(record, sort_keys=True, default=str).encode())
