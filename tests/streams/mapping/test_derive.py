from __future__ import annotations

import pytest

from streams.desired.model import ProjectState, RobotState, UserState
from streams.mapping import (
    PENDING,
    MappingConfig,
    ProjectRow,
    TeamRow,
    UserRow,
    derive_all,
    derive_project,
    derive_user,
    project_key,
    user_key,
)
from streams.mapping.config import UsernameSource
from tests.streams.mapping.histories import project_row, team_row, user_row

pytestmark = pytest.mark.unit

CONFIG = MappingConfig()


def U(uid: int, name: str, status: int = 2, mode: int = 0) -> UserRow:
    return UserRow.from_row(user_row(uid, name, f"{name}@ex.org", status=status, mode=mode))


def test_user_maps_username_and_activity() -> None:
    assert derive_user(U(1, "ada"), CONFIG) == (
        user_key("ada"),
        UserState(username="ada", email="ada@ex.org", realname="Ada L", active=True, hopsworks_uid=1),
    )
    for status in (3, 4, 6):
        derived = derive_user(U(1, "ada", status=status), CONFIG)
        assert derived is not None and derived[1].active is False


def test_user_name_map_is_configuration() -> None:
    config = MappingConfig(username_source=UsernameSource.EMAIL_LOCAL)
    row = UserRow.from_row(user_row(1, "meb10000", "ada.l@ex.org"))
    derived = derive_user(row, config)
    assert derived is not None and derived[0] == user_key("ada.l")


def test_remote_users_are_not_created_without_db_auth() -> None:
    assert derive_user(U(1, "ada", mode=1), MappingConfig(db_auth=False)) is None
    assert derive_user(U(1, "ada", mode=1), CONFIG) is not None
    assert derive_user(U(1, "ada", mode=0), MappingConfig(db_auth=False)) is not None


def test_service_account_skipped_or_mapped() -> None:
    serving = UserRow.from_row(user_row(9, "serving", "serving@hopsworks.se"))
    users = {"serving@hopsworks.se": serving, "ada@ex.org": U(1, "ada")}
    project = ProjectRow.from_row(project_row(7, "Demo", "ada@ex.org"))
    team = [TeamRow.from_row(team_row(7, "serving@hopsworks.se", "Data scientist"))]
    assert derive_user(serving, CONFIG) is None
    state = derive_project(project, team, users, CONFIG)
    assert isinstance(state, ProjectState) and state.members == {"ada": 1}
    mapped = MappingConfig(service_accounts={"serving@hopsworks.se": "robot-serving"})
    assert derive_user(serving, mapped) is None
    state = derive_project(project, team, users, mapped)
    assert isinstance(state, ProjectState) and state.members == {"ada": 1, "robot-serving": 2}


def test_project_roles_owner_quota_robots_and_name() -> None:
    users = {
        f"{n}@ex.org": U(i, n, status=s)
        for i, (n, s) in enumerate([("ada", 2), ("bob", 2), ("cy", 2), ("dan", 2), ("eve", 4)])
    }
    project = ProjectRow.from_row(project_row(7, "Demo_Proj", "ada@ex.org", image="demo_proj:1-4.0.1"))
    team = [
        TeamRow.from_row(team_row(7, e, r))
        for e, r in [
            ("ada@ex.org", "Data owner"),  # Hopsworks adds the owner as Data owner: owner role wins
            ("bob@ex.org", "Data owner"),
            ("cy@ex.org", "Data scientist"),
            ("dan@ex.org", "Under removal"),
            ("eve@ex.org", "Data owner"),  # blocked: dropped
            ("zed@ex.org", "Data owner"),  # users row not seen yet: left out
            ("bob@ex.org", "Data owner"),
        ]
    ]
    config = MappingConfig(default_quota=1 << 30, robots=(RobotState(name="ci", actions=("push",)),))
    state = derive_project(project, team, users, config)
    assert state == ProjectState(
        name="demo_proj",
        hopsworks_id=7,
        owner="ada",
        members={"ada": 1, "bob": 4, "cy": 2},
        storage_limit=1 << 30,
        robots=(RobotState(name="ci", actions=("push",)),),
        image="demo_proj:1-4.0.1",
    )
    assert derive_project(project, team, users, CONFIG).robots == (  # type: ignore[union-attr]
        RobotState(name="pull", actions=("pull",)),
        RobotState(name="push", actions=("pull", "push")),
    )


def test_project_not_done_is_absent_and_unknown_owner_pending() -> None:
    users = {"ada@ex.org": U(1, "ada")}
    for status in (1, 2):
        assert (
            derive_project(ProjectRow.from_row(project_row(1, "p1", "ada@ex.org", status)), [], users, CONFIG)
            is None
        )
    unknown_owner = ProjectRow.from_row(project_row(1, "p1", "bob@ex.org"))
    assert derive_project(unknown_owner, [], users, CONFIG) is PENDING


def test_inactive_owner_keeps_owner_field_but_loses_membership() -> None:
    users = {"ada@ex.org": U(1, "ada", status=3)}
    state = derive_project(ProjectRow.from_row(project_row(1, "p1", "ada@ex.org")), [], users, CONFIG)
    assert isinstance(state, ProjectState) and state.owner == "ada" and state.members == {}


def test_derive_all() -> None:
    users = [U(1, "ada"), U(2, "bob")]
    projects = [
        ProjectRow.from_row(project_row(1, "P1", "ada@ex.org")),
        ProjectRow.from_row(project_row(2, "p2", "ada@ex.org", creation_status=1)),
    ]
    team = [TeamRow.from_row(team_row(1, "bob@ex.org", "Data scientist"))]
    desired = derive_all(users, projects, team, CONFIG)
    assert set(desired) == {user_key("ada"), user_key("bob"), project_key("p1")}
    assert desired[project_key("p1")].members == {"ada": 1, "bob": 2}  # type: ignore[union-attr]
