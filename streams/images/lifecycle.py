"""Follow `conda_commands` as Hopsworks runs it and decide what each change means for images.

Pure: a change event in, a `Decision` out; called by the image agent for every record of the
conda_commands CDC topic. Hopsworks' life of one command (DESIGN.md):

    INSERT(NEW) -> UPDATE(ONGOING) -> DELETE          success: build (the delete's before image
                                                      still says ONGOING: binlog_row_image=FULL)
                                   -> UPDATE(FAILED)  failure: no build
    DELETE while NEW                                  cancelled: no build

CREATE / SYNC_BASE_ENV make the project's first image from the configured base; INSTALL /
UNINSTALL add one library step to the current image; REMOVE (inserted when a project is
deleted; the row may outlive the project) deletes the environment repositories at once.
A row that does not validate raises `TerminalImageError("bad_command")`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from streams.images.commands import CondaCommand, CondaOp, CondaStatus

__all__ = ["Action", "Decision", "follow", "SUCCESS_ACTIONS"]


class Action(StrEnum):
    BUILD = "build"  # FROM the project's current image + one library step
    BASE = "base"  # the project's first image, FROM the configured base
    REMOVE = "remove"  # delete the project's environment repositories
    FAILED = "failed"  # Hopsworks marked the command FAILED: nothing to build
    UNSUPPORTED = "unsupported"  # succeeded, but hopsharbor cannot reproduce it (dead letter)
    IGNORE = "ignore"  # not (yet) an image change


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str  # short word for logs and metrics: "succeeded", "pending", "cancelled", ...
    command: CondaCommand | None = None


# What a command that succeeded (row deleted after ONGOING) means, by op.
SUCCESS_ACTIONS: dict[str, Action] = {
    CondaOp.INSTALL: Action.BUILD,
    CondaOp.UNINSTALL: Action.BUILD,
    CondaOp.CREATE: Action.BASE,
    CondaOp.SYNC_BASE_ENV: Action.BASE,
    CondaOp.REMOVE: Action.IGNORE,  # acted on when inserted
    CondaOp.EXPORT: Action.IGNORE,  # writes a file, the image is unchanged
    CondaOp.IMPORT: Action.UNSUPPORTED,  # the environment file lives in HopsFS
    CondaOp.CUSTOM_COMMANDS: Action.UNSUPPORTED,
}


def follow(op: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> Decision:
    """The meaning of one change (Debezium `op` c/u/d/r) of a conda_commands row."""
    if op == "d":
        if before is None:
            return Decision(Action.IGNORE, "no_before_image")
        command = CondaCommand.from_row(before)
        if command.status == CondaStatus.ONGOING:
            return Decision(SUCCESS_ACTIONS.get(command.op, Action.UNSUPPORTED), "succeeded", command)
        return Decision(
            Action.IGNORE, "cancelled" if command.status == CondaStatus.NEW else "cleared", command
        )
    if after is None:
        return Decision(Action.IGNORE, "no_after_image")
    command = CondaCommand.from_row(after)
    if command.op == CondaOp.REMOVE and op in ("c", "r"):
        return Decision(Action.REMOVE, "project_removed", command)
    if op == "u" and command.status == CondaStatus.FAILED:
        was = before.get("status") if before is not None else None
        if was != CondaStatus.FAILED:
            return Decision(Action.FAILED, "failed", command)
    return Decision(Action.IGNORE, "pending", command)
