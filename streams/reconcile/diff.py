"""The diff: a pure function from (desired, observed, config) to the ordered list of actions.

No I/O, no clock: the same inputs always give the same plan, so the reconciler, the dry-run and
the tests share it. An empty list means Harbor already matches and nothing is written.
Raises TerminalError for states no action can fix: a foreign project in the way
("foreign_project"), a name Harbor would reject ("bad_name"), a record whose name is not its key's.
"""

from __future__ import annotations

import re

from streams.desired.model import ProjectState, UserState
from streams.harbor.client import robot_actions
from streams.harbor.errors import TerminalError
from streams.reconcile.actions import Action
from streams.reconcile.config import ReconcileConfig
from streams.reconcile.observe import ObservedProject, ObservedUser
from streams.reconcile.plan import ordered

__all__ = ["diff_project", "diff_user", "HARBOR_PROJECT_NAME"]

HARBOR_PROJECT_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def diff_user(
    name: str, desired: UserState | None, observed: ObservedUser, config: ReconcileConfig
) -> list[Action]:
    """Users exist only in db_auth mode. An inactive user keeps its account (its memberships go
    through the project keys). An absent desired user is deleted only with config.delete_users,
    and only if hopsharbor created it."""
    if not config.db_auth:
        return []
    user = observed.user
    if desired is None:
        if (
            config.delete_users
            and user is not None
            and user.username != config.owner_account
            and (user.comment or "") == config.user_comment
        ):
            return [Action("delete", "user", name, ref=user.user_id, current=user)]
        return []
    if desired.username != name:
        raise TerminalError("bad_request", f"user record {desired.username!r} under key user/{name}")
    realname = desired.realname or desired.username
    if user is None:
        return [Action("create", "user", name, f"email {desired.email}", value=desired)]
    changes = []
    if (user.email or "") != desired.email:
        changes.append(f"email {user.email} -> {desired.email}")
    if (user.realname or "") != realname:
        changes.append(f"realname {user.realname} -> {realname}")
    if not changes:
        return []
    return [Action("update", "user", name, ", ".join(changes), ref=user.user_id, value=desired, current=user)]


def diff_project(
    name: str, desired: ProjectState | None, observed: ObservedProject, config: ReconcileConfig
) -> list[Action]:
    """Actions that make the Harbor project `name` what `desired` says (None: absent)."""
    project = observed.project
    if desired is None:
        if project is None or not observed.owned:
            return []  # nothing of ours to remove; a foreign project of that name is left alone
        return ordered(_teardown(name, observed))
    if desired.name != name:
        raise TerminalError("bad_request", f"project record {desired.name!r} under key project/{name}")
    if not (1 <= len(name) <= 255 and HARBOR_PROJECT_NAME.match(name)):
        raise TerminalError("bad_name", f"{name!r} is not a valid Harbor project name")
    if project is None:
        return ordered(_create_all(desired, config))
    if not observed.owned:
        raise TerminalError(
            "foreign_project",
            f"project {name!r} exists in Harbor, owned by {project.owner_name!r}, not by "
            f"{config.owner_account!r} and not adopted: left alone",
        )
    return ordered(
        _quota(desired, observed) + _members(desired, observed, config) + _robots(desired, observed)
    )


def _create_all(desired: ProjectState, config: ReconcileConfig) -> list[Action]:
    actions = [
        Action(
            "create",
            "project",
            desired.name,
            f"storage_limit {desired.storage_limit}",
            value=desired.storage_limit,
        )
    ]
    for username, role in sorted(desired.members.items()):
        if username != config.owner_account:  # the creator is projectAdmin already
            actions.append(Action("create", "member", username, f"role {role}", value=role))
    for robot in desired.robots:
        actions.append(
            Action(
                "create",
                "robot",
                robot.name,
                "actions " + ",".join(robot.actions),
                value=tuple(robot.actions),
            )
        )
    return actions


def _quota(desired: ProjectState, observed: ObservedProject) -> list[Action]:
    quota = observed.quota
    if quota is None or quota.storage == desired.storage_limit:
        return []
    return [
        Action(
            "update",
            "quota",
            desired.name,
            f"storage {quota.storage} -> {desired.storage_limit}",
            ref=quota.id,
            value=desired.storage_limit,
        )
    ]


def _members(desired: ProjectState, observed: ObservedProject, config: ReconcileConfig) -> list[Action]:
    # Group members are not hopsharbor's (Hopsworks has no groups): they are left alone.
    current = {m.entity_name: m for m in observed.members if m.entity_type == "u"}
    actions = []
    for username, role in sorted(desired.members.items()):
        member = current.get(username)
        if member is None:
            actions.append(Action("create", "member", username, f"role {role}", value=role))
        elif member.role_id != role:
            actions.append(
                Action(
                    "update",
                    "member",
                    username,
                    f"role {member.role_id} -> {role}",
                    ref=member.id,
                    value=role,
                    current=member,
                )
            )
    for username, member in sorted(current.items()):
        if username not in desired.members and username != config.owner_account:
            actions.append(
                Action("delete", "member", username, f"role {member.role_id}", ref=member.id, current=member)
            )
    return actions


def _robots(desired: ProjectState, observed: ObservedProject) -> list[Action]:
    current = {r.short_name: r for r in observed.robots}
    actions = []
    for robot in desired.robots:
        seen = current.get(robot.name)
        if seen is None:
            actions.append(
                Action(
                    "create",
                    "robot",
                    robot.name,
                    "actions " + ",".join(robot.actions),
                    value=tuple(robot.actions),
                )
            )
            continue
        wanted = frozenset(("project", "repository", a) for a in robot.actions)
        have = robot_actions(seen.robot.permissions, desired.name)
        if seen.robot.disable or have != wanted:
            was = ",".join(sorted(a for _, _, a in have)) + (" disabled" if seen.robot.disable else "")
            actions.append(
                Action(
                    "update",
                    "robot",
                    robot.name,
                    f"actions {was} -> {','.join(robot.actions)}",
                    ref=seen.robot.id,
                    value=tuple(robot.actions),
                    current=seen.robot,
                )
            )
        if seen.secret in ("missing", "wrong"):
            actions.append(
                Action(
                    "update",
                    "robot_secret",
                    robot.name,
                    f"secret {seen.secret}",
                    ref=seen.robot.id,
                    current=seen.robot,
                )
            )
    wanted_names = {r.name for r in desired.robots}
    for short, seen in sorted(current.items()):
        if short not in wanted_names:
            actions.append(
                Action("delete", "robot", short, seen.robot.name, ref=seen.robot.id, current=seen.robot)
            )
    return actions


def _teardown(name: str, observed: ObservedProject) -> list[Action]:
    assert observed.project is not None
    actions = [
        Action("delete", "immutable_rule", str(rule.id), ref=rule.id) for rule in observed.immutable_rules
    ]
    actions += [Action("delete", "repository", repo.name) for repo in observed.repositories]
    actions.append(
        Action(
            "delete",
            "project",
            name,
            f"id {observed.project.project_id}",
            ref=observed.project.project_id,
            value=tuple(r.short_name for r in observed.robots),
        )
    )
    return actions
