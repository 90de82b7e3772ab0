"""Records of the desired state. Pure data: no I/O, no Harbor, no Kafka.

Names are Harbor's: a project's `name` is the lower-cased Hopsworks projectname, a user's
`username` is the Harbor username the name mapping chose (Hopsworks `users.username` by default).
Records are frozen and compare by value, so "desired == observed" is a plain equality and an
unchanged desired state produces no write.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ResourceKind", "StateKey", "UserState", "RobotState", "ProjectState"]


class ResourceKind(StrEnum):
    USER = "user"
    PROJECT = "project"


class StateKey(BaseModel):
    """Identity of one reconciled resource; encoded as `<kind>/<name>` on the state topic."""

    model_config = ConfigDict(frozen=True)

    kind: ResourceKind
    name: str

    def encode(self) -> str:
        return f"{self.kind.value}/{self.name}"

    @classmethod
    def decode(cls, raw: str | bytes) -> StateKey:
        text = raw.decode() if isinstance(raw, bytes) else raw
        kind, _, name = text.partition("/")
        if not name:
            raise ValueError(f"state key {text!r} is not <kind>/<name>")
        return cls(kind=ResourceKind(kind), name=name)


class UserState(BaseModel):
    """A Harbor user (database authentication mode). `active=False`: keep the account, drop memberships."""

    model_config = ConfigDict(frozen=True)

    username: str
    email: str
    realname: str = ""
    active: bool = True
    hopsworks_uid: int | None = None


class RobotState(BaseModel):
    """A project robot. Its secret is chosen by hopsharbor (never stored here: see the secret store)."""

    model_config = ConfigDict(frozen=True)

    name: str  # short name; Harbor shows it as robot$<project>+<name>
    actions: tuple[str, ...]  # repository actions, e.g. ("pull",) or ("pull", "push")


class ProjectState(BaseModel):
    """A Harbor project with everything hopsharbor keeps in step inside it."""

    model_config = ConfigDict(frozen=True)

    name: str
    hopsworks_id: int
    owner: str  # Harbor username of the owner (member with role projectAdmin)
    members: dict[str, int] = Field(default_factory=dict)  # Harbor username -> role_id, owner included
    storage_limit: int = -1  # bytes; -1 = unlimited
    robots: tuple[RobotState, ...] = ()
    image: str | None = None  # current environment image reference, if any

    def __hash__(self) -> int:  # dict field: hash by the canonical JSON
        return hash(self.model_dump_json())
