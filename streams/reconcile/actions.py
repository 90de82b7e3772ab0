"""Records of the reconciler: planned actions and what applying them did. Declarations only.

Action.kind is create | update | delete; Action.resource one of RESOURCES. `ref` is the Harbor
id of the existing object the action changes, `value` what it is set to (a role id, a storage
limit, robot actions, a UserState), `current` the observed record it replaces; those three are
for the applier and are left out of the text printed by `hopsharbor reconcile --dry-run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from streams.harbor.models import Outcome

__all__ = ["Action", "ActionResult", "ReconcileResult", "RESOURCES", "ActionKind"]

ActionKind = Literal["create", "update", "delete"]

RESOURCES = ("user", "project", "quota", "member", "robot", "robot_secret", "immutable_rule", "repository")


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    resource: str
    name: str
    detail: str = ""
    ref: int | None = field(default=None, compare=False)
    value: object = field(default=None, compare=False)
    current: object = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.resource} {self.name}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class ActionResult:
    """One applied action. outcome None: not applied yet (waiting, e.g. for its user): requeue."""

    action: Action
    outcome: Outcome | None
    ref: int | None = None  # Harbor id of what a create made, when Harbor told it


@dataclass(frozen=True)
class ReconcileResult:
    """done: Harbor matches the desired state (as far as this reconcile saw).
    requeue: call again after `requeue_after` seconds; something could not be applied yet."""

    outcome: Literal["done", "requeue"]
    requeue_after: float | None = None
    actions: list[Action] = field(default_factory=list)
    results: list[ActionResult] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return sum(1 for r in self.results if r.outcome not in (None, Outcome.UNCHANGED))
