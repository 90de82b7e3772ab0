"""Read what Harbor holds for one key: the `observed` half of the diff.

Called by the Reconciler (reconcile and plan) once per key, before the diff. Reads only; the
independent reads of a project run concurrently. The secret store is read, never written.
Errors are the HarborClient's (RetriableError / TerminalError).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from streams.harbor.client import HarborClient
from streams.harbor.models import ImmutableRule, Member, Project, Quota, Repository, Robot, User
from streams.reconcile.config import ReconcileConfig
from streams.secrets.base import SecretStore

__all__ = [
    "ObservedProject",
    "ObservedRobot",
    "ObservedUser",
    "SecretState",
    "observe_project",
    "observe_user",
    "owns",
    "robot_secret_name",
    "robot_short_name",
]

SecretState = Literal["ok", "wrong", "missing", "unchecked"]


@dataclass(frozen=True)
class ObservedRobot:
    robot: Robot
    short_name: str
    secret: SecretState


@dataclass(frozen=True)
class ObservedProject:
    """project None: absent. For a project hopsharbor does not own only `project` is read."""

    project: Project | None
    owned: bool = False
    members: tuple[Member, ...] = ()
    robots: tuple[ObservedRobot, ...] = ()
    quota: Quota | None = None
    repositories: tuple[Repository, ...] = ()
    immutable_rules: tuple[ImmutableRule, ...] = ()
    detailed: bool = field(default=False)  # members/robots/quota were read


@dataclass(frozen=True)
class ObservedUser:
    user: User | None


def owns(project: Project, config: ReconcileConfig) -> bool:
    """Ours: created by hopsharbor's account, or adopted by name in configuration."""
    return project.owner_name == config.owner_account or project.name in config.adopted_projects


def robot_short_name(full_name: str, project: str, config: ReconcileConfig) -> str:
    """`robot$<project>+<name>` -> `<name>`; a name of another form is returned whole."""
    prefix = f"{config.robot_prefix}{project}+"
    return full_name[len(prefix) :] if full_name.startswith(prefix) else full_name


def robot_secret_name(project: str, robot: str) -> str:
    """Key of a robot's secret in the SecretStore."""
    return f"{project}+{robot}"


async def observe_user(client: HarborClient, username: str) -> ObservedUser:
    return ObservedUser(await client.find_user(username))


async def observe_project(
    client: HarborClient,
    config: ReconcileConfig,
    secrets: SecretStore,
    name: str,
    *,
    for_deletion: bool,
    robots_wanted: frozenset[str] = frozenset(),
) -> ObservedProject:
    """Read the project and, when it is ours, what the diff needs.

    For deletion: immutable tag rules, repositories and robots (to forget their secrets).
    Otherwise: members, robots and the quota; for each robot in `robots_wanted` the stored secret
    is checked against Harbor when config.verify_robot_secrets.
    """
    project = await client.get_project(name)
    if project is None:
        return ObservedProject(project=None)
    if project.owner_name is None and project.owner_id is not None:
        # ownership is decided by the owner's name; a Harbor that leaves it out gets asked once more
        owner = await client.get_user(project.owner_id)
        project = project.model_copy(update={"owner_name": owner.username if owner else ""})
    if not owns(project, config):
        return ObservedProject(project=project, owned=False)
    if for_deletion:
        rules, repositories, robots = await asyncio.gather(
            client.list_immutable_rules(name),
            client.list_repositories(name),
            client.list_project_robots(project.project_id),
        )
        observed_robots = tuple(
            ObservedRobot(r, robot_short_name(r.name, name, config), "unchecked") for r in robots
        )
        return ObservedProject(
            project=project,
            owned=True,
            repositories=tuple(repositories),
            immutable_rules=tuple(rules),
            robots=observed_robots,
        )
    members, robots, quota = await asyncio.gather(
        client.list_members(name),
        client.list_project_robots(project.project_id),
        client.get_project_quota(project.project_id),
    )
    checked = await asyncio.gather(
        *(_secret_state(client, config, secrets, name, robot, robots_wanted) for robot in robots)
    )
    return ObservedProject(
        project=project, owned=True, members=tuple(members), robots=tuple(checked), quota=quota, detailed=True
    )


async def _secret_state(
    client: HarborClient,
    config: ReconcileConfig,
    secrets: SecretStore,
    project: str,
    robot: Robot,
    wanted: frozenset[str],
) -> ObservedRobot:
    short = robot_short_name(robot.name, project, config)
    if short not in wanted:
        return ObservedRobot(robot, short, "unchecked")
    stored = secrets.get(robot_secret_name(project, short))
    if stored is None:
        return ObservedRobot(robot, short, "missing")
    if not config.verify_robot_secrets:
        return ObservedRobot(robot, short, "unchecked")
    ok = await client.check_robot_secret(robot.name, stored)
    return ObservedRobot(robot, short, "ok" if ok else "wrong")
