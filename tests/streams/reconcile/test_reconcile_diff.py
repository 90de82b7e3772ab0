"""The pure diff: same inputs, same plan; safe order; ownership and name checks."""

from __future__ import annotations

import pytest

from streams.desired.model import ProjectState, RobotState, UserState
from streams.harbor import TerminalError
from streams.harbor.models import ImmutableRule, Member, Project, Quota, Repository, Robot, User
from streams.reconcile import ReconcileConfig, diff_project, diff_user, format_plan
from streams.reconcile.observe import ObservedProject, ObservedRobot, ObservedUser

pytestmark = pytest.mark.unit

CONFIG = ReconcileConfig(owner_account="hopsharbor")
OURS = Project(project_id=3, name="demo", owner_name="hopsharbor")


def state(**changes) -> ProjectState:
    base = dict(
        name="demo",
        hopsworks_id=1,
        owner="alice",
        members={"alice": 1, "bob": 2},
        storage_limit=100,
        robots=(RobotState(name="pull", actions=("pull",)),),
    )
    return ProjectState(**(base | changes))


def robot(rid: int, name: str, actions: tuple[str, ...], secret="ok", disable=False) -> ObservedRobot:
    perms = [
        {
            "kind": "project",
            "namespace": "demo",
            "access": [{"resource": "repository", "action": a} for a in actions],
        }
    ]
    return ObservedRobot(
        Robot.model_validate(
            {"id": rid, "name": f"robot$demo+{name}", "permissions": perms, "disable": disable}
        ),
        name,
        secret,
    )


def converged(**changes) -> ObservedProject:
    base = dict(
        project=OURS,
        owned=True,
        detailed=True,
        quota=Quota(id=8, hard={"storage": 100}),
        members=(
            Member(id=1, entity_name="hopsharbor", role_id=1),
            Member(id=2, entity_name="alice", role_id=1),
            Member(id=3, entity_name="bob", role_id=2),
        ),
        robots=(robot(11, "pull", ("pull",)),),
    )
    return ObservedProject(**(base | changes))


def test_converged_project_gives_no_action():
    assert diff_project("demo", state(), converged(), CONFIG) == []


def test_absent_project_creates_everything_in_order():
    actions = diff_project("demo", state(), ObservedProject(project=None), CONFIG)
    assert format_plan("project/demo", actions).splitlines() == [
        "project/demo: create project demo (storage_limit 100)",
        "project/demo: create member alice (role 1)",
        "project/demo: create member bob (role 2)",
        "project/demo: create robot pull (actions pull)",
    ]


def test_changes_are_ordered_safely():
    observed = converged(
        quota=Quota(id=8, hard={"storage": -1}),
        members=(
            Member(id=2, entity_name="alice", role_id=2),
            Member(id=4, entity_name="old", role_id=1),
            Member(id=5, entity_name="team", entity_type="g", role_id=2),
        ),
        robots=(robot(11, "pull", ("pull", "push"), secret="wrong"), robot(12, "legacy", ("pull",))),
    )
    actions = diff_project("demo", state(), observed, CONFIG)
    assert [(a.kind, a.resource, a.name) for a in actions] == [
        ("update", "quota", "demo"),
        ("create", "member", "bob"),
        ("update", "member", "alice"),
        ("delete", "member", "old"),
        ("update", "robot", "pull"),
        ("update", "robot_secret", "pull"),
        ("delete", "robot", "legacy"),
    ]
    assert diff_project("demo", state(), observed, CONFIG) == actions  # deterministic


def test_missing_secret_is_set_unchecked_is_left():
    assert [
        a.resource
        for a in diff_project(
            "demo", state(), converged(robots=(robot(11, "pull", ("pull",), "missing"),)), CONFIG
        )
    ] == ["robot_secret"]
    assert (
        diff_project("demo", state(), converged(robots=(robot(11, "pull", ("pull",), "unchecked"),)), CONFIG)
        == []
    )


def test_teardown_order_and_foreign_absent():
    observed = ObservedProject(
        project=OURS,
        owned=True,
        immutable_rules=(ImmutableRule(id=5),),
        repositories=(Repository(name="demo/a"), Repository(name="demo/b")),
    )
    assert [(a.resource, a.name) for a in diff_project("demo", None, observed, CONFIG)] == [
        ("immutable_rule", "5"),
        ("repository", "demo/a"),
        ("repository", "demo/b"),
        ("project", "demo"),
    ]
    foreign = ObservedProject(project=Project(project_id=3, name="demo", owner_name="eve"), owned=False)
    assert diff_project("demo", None, foreign, CONFIG) == []
    assert diff_project("demo", None, ObservedProject(project=None), CONFIG) == []


@pytest.mark.parametrize(
    ("key", "desired", "reason"),
    [
        ("demo", None, "foreign_project"),
        ("Demo", "Demo", "bad_name"),
        ("de__mo", "de__mo", "bad_name"),
        ("other", "demo", "bad_request"),
    ],
)
def test_terminal_states(key, desired, reason):
    foreign = ObservedProject(project=Project(project_id=3, name="demo", owner_name="eve"), owned=False)
    with pytest.raises(TerminalError) as error:
        diff_project(
            key, state(name=desired or "demo"), foreign if desired is None else ObservedProject(None), CONFIG
        )
    assert error.value.reason == reason


def test_user_diff():
    wanted = UserState(username="ann", email="ann@x.org", realname="")
    assert [a.kind for a in diff_user("ann", wanted, ObservedUser(None), CONFIG)] == ["create"]
    same = User(user_id=4, username="ann", email="ann@x.org", realname="ann", comment="managed by hopsharbor")
    assert diff_user("ann", wanted, ObservedUser(same), CONFIG) == []
    assert diff_user("ann", None, ObservedUser(same), CONFIG) == []
    assert [
        a.kind
        for a in diff_user("ann", None, ObservedUser(same), ReconcileConfig("hopsharbor", delete_users=True))
    ] == ["delete"]
    assert diff_user("ann", wanted, ObservedUser(None), ReconcileConfig("hopsharbor", db_auth=False)) == []
