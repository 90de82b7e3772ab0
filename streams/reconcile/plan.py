"""The safe order of actions, as one table: lower steps are applied first.

Why this order: a project must exist before its members and robots; new and changed members
before removed ones (an owner change never leaves a project without an admin); a robot's
permissions before its secret; immutable tag rules before repositories (they make tag deletion
fail with 412), repositories before the project (412 otherwise). Users are their own keys and are
reconciled before memberships by the caller (a member whose user is missing is requeued).
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.reconcile.actions import Action

__all__ = ["STEPS", "LANES", "ordered", "format_plan"]

STEPS: dict[tuple[str, str], int] = {
    ("create", "user"): 0,
    ("update", "user"): 1,
    ("create", "project"): 10,
    ("update", "quota"): 20,
    ("create", "member"): 30,
    ("update", "member"): 31,
    ("delete", "member"): 32,
    ("create", "robot"): 40,
    ("update", "robot"): 41,
    ("update", "robot_secret"): 42,
    ("delete", "robot"): 43,
    ("delete", "immutable_rule"): 80,
    ("delete", "repository"): 81,
    ("delete", "project"): 90,
    ("delete", "user"): 99,
}


# Resources that do not depend on each other once the project exists: the applier runs these
# lanes concurrently (each lane in order). Everything else runs alone, in plan order.
LANES: dict[str, str] = {
    "quota": "quota",
    "member": "members",
    "robot": "robots",
    "robot_secret": "robots",
}


def ordered(actions: Iterable[Action]) -> list[Action]:
    """Stable sort by STEPS (actions of one step keep the diff's order)."""
    return sorted(actions, key=lambda a: STEPS[(a.kind, a.resource)])


def format_plan(key: str, actions: Iterable[Action]) -> str:
    """Lines for `hopsharbor reconcile --dry-run`: `<key>: <kind> <resource> <name> (<detail>)`."""
    lines = [f"{key}: {action}" for action in actions]
    return "\n".join(lines) if lines else f"{key}: unchanged"
