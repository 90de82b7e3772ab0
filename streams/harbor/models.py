"""Typed records of the Harbor API v2.0 objects hopsharbor reads. Declarations only.

Only the fields hopsharbor uses are declared; Harbor's other fields are ignored, so a newer
Harbor that adds fields still parses. Write bodies are built by the client from plain values.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Outcome",
    "Project",
    "Member",
    "User",
    "Quota",
    "RobotAccess",
    "RobotPermission",
    "Robot",
    "Repository",
    "ImmutableRule",
    "ROLE_PROJECT_ADMIN",
]

ROLE_PROJECT_ADMIN = 1


class Outcome(StrEnum):
    """What an ensure_* operation (or one applied action) did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Project(_Model):
    project_id: int
    name: str
    owner_id: int | None = None
    owner_name: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    repo_count: int | None = None

    def __hash__(self) -> int:
        return hash((self.project_id, self.name))


class Member(_Model):
    id: int
    project_id: int | None = None
    entity_name: str
    entity_type: str = "u"  # "u" user, "g" group
    role_id: int
    role_name: str | None = None


class User(_Model):
    user_id: int
    username: str
    email: str | None = None
    realname: str | None = None
    comment: str | None = None
    sysadmin_flag: bool | None = None


class Quota(_Model):
    id: int
    hard: dict[str, int] = Field(default_factory=dict)
    used: dict[str, int] = Field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.id, tuple(sorted(self.hard.items()))))

    @property
    def storage(self) -> int | None:
        return self.hard.get("storage")


class RobotAccess(_Model):
    resource: str
    action: str
    effect: str | None = None


class RobotPermission(_Model):
    kind: str
    namespace: str
    access: tuple[RobotAccess, ...] = ()


class Robot(_Model):
    id: int
    name: str  # as Harbor shows it: robot$<project>+<name> for a project robot
    description: str | None = None
    level: str | None = None
    duration: int | None = None
    disable: bool = False
    editable: bool = True
    permissions: tuple[RobotPermission, ...] = ()


class Repository(_Model):
    id: int | None = None
    name: str  # "<project>/<repository path>"
    artifact_count: int | None = None


class ImmutableRule(_Model):
    id: int
    disabled: bool = False
