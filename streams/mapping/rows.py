"""The columns of the Hopsworks tables that the mapping reads, validated once at the edge.

`from_row` is called by the mirror on every before/after image; a row missing a column or with
a column of the wrong type raises `MalformedEvent("bad_row")` (the event goes to the DLQ).
Rows are stored in the worker's tables as plain dicts (`dump()`), so the Faust changelog holds JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from streams.mapping.events import MalformedEvent

__all__ = ["ProjectRow", "TeamRow", "UserRow"]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Any:
        try:
            return cls.model_validate(dict(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise MalformedEvent("bad_row", f"{cls.__name__}.{where}: {first['msg']}") from None

    def dump(self) -> dict[str, Any]:
        return self.model_dump()


class UserRow(_Row):
    uid: int
    username: str
    email: str | None = None
    fname: str | None = None
    lname: str | None = None
    status: int = -1
    mode: int = 0


class ProjectRow(_Row):
    id: int
    projectname: str
    username: str  # the owner's email
    creation_status: int = 0
    docker_image: str | None = None


class TeamRow(_Row):
    project_id: int
    team_member: str  # the member's email
    team_role: str
