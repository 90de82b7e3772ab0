"""A `conda_commands` row as the image pipeline reads it, validated once at the edge.

Hopsworks writes one row per environment operation (see DESIGN.md): op CREATE / INSTALL /
UNINSTALL / REMOVE / ...; status NEW -> ONGOING -> (row deleted = success | FAILED).
`CondaCommand.from_row` is called by the life-cycle follower on every before/after image; a row
that does not validate raises `TerminalImageError("bad_command")` (the event is dead-lettered).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from streams.images.errors import TerminalImageError

__all__ = ["CondaOp", "CondaStatus", "InstallType", "CondaCommand", "to_epoch_millis"]


class CondaOp(StrEnum):
    CREATE = "CREATE"
    REMOVE = "REMOVE"
    INSTALL = "INSTALL"
    UNINSTALL = "UNINSTALL"
    EXPORT = "EXPORT"
    IMPORT = "IMPORT"
    SYNC_BASE_ENV = "SYNC_BASE_ENV"
    CUSTOM_COMMANDS = "CUSTOM_COMMANDS"


class CondaStatus(StrEnum):
    NEW = "NEW"
    ONGOING = "ONGOING"
    FAILED = "FAILED"


class InstallType(StrEnum):
    ENVIRONMENT = "ENVIRONMENT"
    CONDA = "CONDA"
    PIP = "PIP"
    EGG = "EGG"
    WHEEL = "WHEEL"
    GIT = "GIT"
    REQUIREMENTS_TXT = "REQUIREMENTS_TXT"
    ENVIRONMENT_YAML = "ENVIRONMENT_YAML"
    CUSTOM_COMMANDS = "CUSTOM_COMMANDS"


def to_epoch_millis(value: Any) -> int:
    """`created` as the connector sends it: epoch millis (int), ISO text, or a datetime (UTC if naive)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError("created is a boolean")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        if text.isdigit():
            return int(text)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(round(value.timestamp() * 1000))
    raise ValueError(f"created {value!r} is not a timestamp")


class CondaCommand(BaseModel):
    """The columns of `conda_commands` that decide what to build."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    project_id: int
    op: str
    status: str
    lib: str | None = None
    version: str | None = None
    channel_url: str | None = None
    arg: str | None = None
    install_type: str | None = None
    created: int = 0  # epoch millis (see to_epoch_millis)
    user_id: int | None = None
    error_message: str | None = None

    @field_validator("created", mode="before")
    @classmethod
    def _created(cls, value: Any) -> int:
        return to_epoch_millis(value)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CondaCommand:
        try:
            return cls.model_validate(dict(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise TerminalImageError("bad_command", f"conda_commands.{where}: {first['msg']}") from None

    def describe(self) -> str:
        """Short human form for logs: `#12 INSTALL numpy==1.26 (project 7)`."""
        what = f"{self.lib}=={self.version}" if self.lib and self.version else (self.lib or self.arg or "")
        return f"#{self.id} {self.op} {what} (project {self.project_id})".replace("  ", " ")
