"""Derive the desired Harbor state of one user or one project from Hopsworks rows.

Called by the mirror (incrementally, per event) and by `derive_all` (from whole tables); both
use the functions below, so one semantics holds for the stream and for a fresh computation.
A derivation returns the state, None (the resource must be absent) or PENDING (not derivable
yet, e.g. the owner's `users` row has not arrived: CDC topics are consumed in no global order,
so keep whatever was desired before; the owner's arrival makes the project dirty again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from streams.desired.model import ProjectState, ResourceKind, StateKey, UserState
from streams.mapping.config import MappingConfig, UsernameSource
from streams.mapping.rows import ProjectRow, TeamRow, UserRow

__all__ = [
    "PENDING",
    "Pending",
    "derive_all",
    "derive_project",
    "derive_user",
    "harbor_username",
    "project_key",
    "project_name",
    "user_key",
]

PROJECT_DONE: Final = 0  # project.creation_status: 0 DONE, 1 ONGOING, 2 FAILED


class Pending:
    """Marker: the desired state cannot be derived yet; keep the previous one."""

    _instance: Pending | None = None

    def __new__(cls) -> Pending:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "PENDING"


PENDING: Final = Pending()


def harbor_username(user: UserRow, config: MappingConfig) -> str | None:
    """The Harbor account a Hopsworks user maps to; None = not mirrored (a skipped service account)."""
    if user.email is not None and user.email in config.service_accounts:
        return config.service_accounts[user.email]
    if config.username_source is UsernameSource.USERNAME:
        return user.username
    if user.email is None:
        return None
    if config.username_source is UsernameSource.EMAIL:
        return user.email
    return user.email.split("@", 1)[0]


def project_name(project: ProjectRow, config: MappingConfig) -> str:
    name = project.projectname.lower() if config.lowercase_project_names else project.projectname
    return config.project_prefix + name


def user_key(username: str) -> StateKey:
    return StateKey(kind=ResourceKind.USER, name=username)


def project_key(name: str) -> StateKey:
    return StateKey(kind=ResourceKind.PROJECT, name=name)


def _is_active(user: UserRow, config: MappingConfig) -> bool:
    return user.status not in config.inactive_statuses


def derive_user(user: UserRow, config: MappingConfig) -> tuple[StateKey, UserState] | None:
    """The Harbor user record for one `users` row, or None when hopsharbor keeps no record of it."""
    if user.email is not None and user.email in config.service_accounts:
        return None  # skipped, or mapped onto an account managed outside hopsharbor
    if not config.db_auth and user.mode == 1:
        return None  # remote (LDAP/OIDC) user: Harbor creates the account at first login
    username = harbor_username(user, config)
    if username is None:
        return None
    realname = " ".join(part for part in (user.fname, user.lname) if part)
    state = UserState(
        username=username,
        email=user.email or "",
        realname=realname,
        active=_is_active(user, config),
        hopsworks_uid=user.uid,
    )
    return user_key(username), state


def derive_project(
    project: ProjectRow,
    team: Iterable[TeamRow],
    users_by_email: Mapping[str, UserRow],
    config: MappingConfig,
) -> ProjectState | None | Pending:
    """The Harbor project for one `project` row and its `project_team` rows.

    Members whose `users` row is unknown are left out (they come back when the row arrives);
    inactive users and skipped service accounts are left out; the owner has the owner role
    whatever its team row says. An unknown owner makes the whole project PENDING.
    """
    if project.creation_status != PROJECT_DONE:
        return None
    owner_row = users_by_email.get(project.username)
    if owner_row is None:
        return PENDING
    owner = harbor_username(owner_row, config) or ""
    members: dict[str, int] = {}
    for row in team:
        role = config.role_map.get(row.team_role)
        user = users_by_email.get(row.team_member)
        if role is None or user is None or not _is_active(user, config):
            continue
        username = harbor_username(user, config)
        if username:
            members[username] = role
    if owner and _is_active(owner_row, config):
        members[owner] = config.owner_role
    return ProjectState(
        name=project_name(project, config),
        hopsworks_id=project.id,
        owner=owner,
        members=dict(sorted(members.items())),
        storage_limit=config.default_quota,
        robots=config.robots,
        image=project.docker_image or None,
    )


def derive_all(
    users: Iterable[UserRow],
    projects: Iterable[ProjectRow],
    team: Iterable[TeamRow],
    config: MappingConfig,
) -> dict[StateKey, UserState | ProjectState]:
    """The whole desired state from the current tables (absent resources have no key)."""
    by_email = {u.email: u for u in users if u.email is not None}
    desired: dict[StateKey, UserState | ProjectState] = {}
    for user in by_email.values():
        derived = derive_user(user, config)
        if derived is not None:
            desired[derived[0]] = derived[1]
    teams: dict[int, list[TeamRow]] = {}
    for row in team:
        teams.setdefault(row.project_id, []).append(row)
    for project in projects:
        state = derive_project(project, teams.get(project.id, ()), by_email, config)
        if isinstance(state, ProjectState):
            desired[project_key(state.name)] = state
    return desired
