"""Mapping configuration: how Hopsworks names, roles and quotas become Harbor's.

Built once per process from the settings (`Settings.mapping_config()`) and passed to the
derivation functions; frozen so that one event is always mapped the same way.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from streams.desired.model import RobotState

__all__ = [
    "DEFAULT_ROBOTS",
    "DEFAULT_ROLE_MAP",
    "DEFAULT_SERVICE_ACCOUNTS",
    "INACTIVE_STATUSES",
    "MappingConfig",
    "UsernameSource",
]

# team_role -> Harbor role_id; None = not a member (the transient role during project deletion).
DEFAULT_ROLE_MAP: dict[str, int | None] = {
    "Data owner": 4,  # maintainer (once called "master")
    "Data scientist": 2,  # developer
    "Under removal": None,
}

# users.status values of users who must lose every membership: 3 DEACTIVATED, 4 BLOCKED, 6 SPAM.
INACTIVE_STATUSES: frozenset[int] = frozenset({3, 4, 6})

# Service accounts that are members of every project: skipped by default.
DEFAULT_SERVICE_ACCOUNTS: dict[str, str | None] = {"serving@hopsworks.se": None}

DEFAULT_ROBOTS: tuple[RobotState, ...] = (
    RobotState(name="pull", actions=("pull",)),
    RobotState(name="push", actions=("pull", "push")),
)


class UsernameSource(StrEnum):
    """Which column names a Harbor user: `users.username` (default), the whole email or its local part."""

    USERNAME = "username"
    EMAIL = "email"
    EMAIL_LOCAL = "email_local"


class MappingConfig(BaseModel):
    """Everything the mapping from Hopsworks rows to Harbor resources may vary by."""

    model_config = ConfigDict(frozen=True)

    role_map: dict[str, int | None] = Field(default_factory=lambda: dict(DEFAULT_ROLE_MAP))
    owner_role: int = 1  # projectAdmin
    inactive_statuses: frozenset[int] = INACTIVE_STATUSES
    username_source: UsernameSource = UsernameSource.USERNAME
    lowercase_project_names: bool = True  # Hopsworks names are unique case-insensitively
    project_prefix: str = ""  # prepended to every Harbor project name (e.g. "hw-"); "" = none
    default_quota: int = -1  # bytes; -1 = unlimited
    robots: tuple[RobotState, ...] = DEFAULT_ROBOTS
    # Service accounts by email: None = skipped (no Harbor user, no membership);
    # a string = the Harbor account their memberships map to (an account managed outside hopsharbor).
    service_accounts: dict[str, str | None] = Field(default_factory=lambda: dict(DEFAULT_SERVICE_ACCOUNTS))
    db_auth: bool = True  # False = LDAP/OIDC: remote users (mode 1) get no Harbor user record
