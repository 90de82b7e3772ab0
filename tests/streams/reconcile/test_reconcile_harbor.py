"""The reconciler against the real Harbor of the local stack (deploy/local/stack up harbor).

Skips, with the reason, while Harbor core does not answer /api/v2.0/ping: Harbor is never
imitated here. Every test uses its own random names and removes what it made.
"""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import pytest

from streams.desired.model import ProjectState, ResourceKind, RobotState, StateKey, UserState
from streams.harbor import HarborClient, TerminalError
from streams.reconcile import ReconcileConfig, Reconciler
from streams.secrets import DirectorySecretStore

pytestmark = pytest.mark.integration

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class Calls:
    """Counts the requests of one client (an httpx event hook), by method."""

    def __init__(self) -> None:
        self.methods: Counter[str] = Counter()
        self.log: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.methods[request.method] += 1
        self.log.append(f"{request.method} {request.url.path}")

    @property
    def writes(self) -> int:
        return sum(n for m, n in self.methods.items() if m in WRITES)

    def reset(self) -> None:
        self.methods.clear()
        self.log.clear()


@pytest.fixture
async def harbor(harbor_url, stack):
    calls = Calls()
    async with HarborClient(
        harbor_url, "admin", stack.secret("harbor-admin"), event_hooks={"request": [calls]}
    ) as client:
        client.calls = calls  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"project": f"hh{tag}", "alice": f"a{tag}", "bob": f"b{tag}", "carol": f"c{tag}", "tag": tag}


@pytest.fixture
async def cleanup(harbor):
    projects: list[str] = []
    users: list[str] = []
    yield projects, users
    for name in projects:
        if await harbor.get_project(name) is not None:
            await harbor.ensure_project_absent(name)
    for name in users:
        user = await harbor.find_user(name)
        if user is not None:
            await harbor.delete_user(user.user_id)


async def test_project_lifecycle_converges_and_second_pass_writes_nothing(harbor, names, cleanup, tmp_path):
    projects, users = cleanup
    project, alice, bob, carol = names["project"], names["alice"], names["bob"], names["carol"]
    projects.append(project)
    users.extend([alice, bob, carol])
    reconciler = Reconciler(
        harbor, ReconcileConfig(owner_account="admin"), DirectorySecretStore(tmp_path / "s")
    )
    calls = harbor.calls

    # users first (their own keys), then the project
    for name in (alice, bob, carol):
        result = await reconciler.reconcile(
            StateKey(kind=ResourceKind.USER, name=name),
            UserState(username=name, email=f"{name}@example.com", realname=name.upper()),
        )
        assert result.outcome == "done" and [r.outcome for r in result.results] == ["created"]
    key = StateKey(kind=ResourceKind.PROJECT, name=project)
    desired = ProjectState(
        name=project,
        hopsworks_id=1,
        owner=alice,
        members={alice: 1, bob: 4, carol: 2},
        storage_limit=2 * 2**30,
        robots=(
            RobotState(name="pull", actions=("pull",)),
            RobotState(name="push", actions=("pull", "push")),
        ),
    )
    first = await reconciler.reconcile(key, desired)
    assert first.outcome == "done", first
    observed = await harbor.get_project(project)
    assert observed is not None and observed.owner_name == "admin"
    members = {m.entity_name: m.role_id for m in await harbor.list_members(project)}
    assert members == {"admin": 1, alice: 1, bob: 4, carol: 2}
    quota = await harbor.get_project_quota(observed.project_id)
    assert quota is not None and quota.storage == 2 * 2**30
    robots = await harbor.list_project_robots(observed.project_id)
    assert sorted(r.name for r in robots) == [f"robot${project}+pull", f"robot${project}+push"]
    store = DirectorySecretStore(tmp_path / "s")
    for robot in robots:
        short = robot.name.rsplit("+", 1)[1]
        assert await harbor.check_robot_secret(robot.name, store.get(f"{project}+{short}"))
        assert not await harbor.check_robot_secret(robot.name, "Wrong1Secret")

    # second reconcile: reads only
    calls.reset()
    second = await reconciler.reconcile(key, desired)
    assert second.outcome == "done" and second.actions == []
    assert calls.writes == 0, calls.log
    for name in (alice, bob, carol):
        assert (
            await reconciler.plan(
                StateKey(kind=ResourceKind.USER, name=name),
                UserState(username=name, email=f"{name}@example.com", realname=name.upper()),
            )
        ) == []

    # changes by hand are undone
    pull = next(r for r in robots if r.name.endswith("+pull"))
    await harbor.set_robot_secret(pull.id, "ByHand1Secret")
    await harbor.update_quota(quota.id, 1024)
    bob_member = next(m for m in await harbor.list_members(project) if m.entity_name == bob)
    await harbor.update_member(project, bob_member.id, 3)
    await harbor.delete_member(
        project, next(m.id for m in await harbor.list_members(project) if m.entity_name == carol)
    )
    await harbor.update_robot(next(r for r in robots if r.name.endswith("+push")), project, ["pull"])
    third = await reconciler.reconcile(key, desired)
    assert sorted((a.kind, a.resource, a.name) for a in third.actions) == sorted(
        [
            ("update", "quota", project),
            ("update", "member", bob),
            ("create", "member", carol),
            ("update", "robot_secret", "pull"),
            ("update", "robot", "push"),
        ]
    )
    assert await harbor.check_robot_secret(pull.name, store.get(f"{project}+pull"))
    assert {r.id for r in await harbor.list_project_robots(observed.project_id)} == {r.id for r in robots}
    calls.reset()
    assert (await reconciler.reconcile(key, desired)).actions == [] and calls.writes == 0

    # a member leaves, the quota changes
    smaller = desired.model_copy(update={"members": {alice: 1, bob: 2}, "storage_limit": -1})
    fourth = await reconciler.reconcile(key, smaller)
    assert sorted(str(a) for a in fourth.actions) == sorted(
        [
            f"update quota {project} (storage 2147483648 -> -1)",
            f"update member {bob} (role 4 -> 2)",
            f"delete member {carol} (role 2)",
        ]
    )
    assert {m.entity_name: m.role_id for m in await harbor.list_members(project)} == {
        "admin": 1,
        alice: 1,
        bob: 2,
    }

    # deletion
    gone = await reconciler.reconcile(key, None)
    assert gone.outcome == "done" and [a.resource for a in gone.actions][-1] == "project"
    assert await harbor.get_project(project) is None
    assert (await reconciler.reconcile(key, None)).actions == []
    assert store.get(f"{project}+pull") is None


async def test_foreign_project_is_reported_not_touched(harbor, harbor_url, names, cleanup, tmp_path):
    projects, users = cleanup
    project, owner = names["project"], names["alice"]
    projects.append(project)
    users.append(owner)
    password = "Foreign1" + names["tag"]
    await harbor.create_user(owner, f"{owner}@example.com", owner, password)
    async with HarborClient(harbor_url, owner, password) as theirs:
        await theirs.create_project(project)
    reconciler = Reconciler(harbor, ReconcileConfig(owner_account="admin"), DirectorySecretStore(tmp_path))
    desired = ProjectState(name=project, hopsworks_id=1, owner="admin", members={"admin": 1})
    harbor.calls.reset()
    with pytest.raises(TerminalError) as error:
        await reconciler.reconcile(StateKey(kind=ResourceKind.PROJECT, name=project), desired)
    assert error.value.reason == "foreign_project"
    assert harbor.calls.writes == 0
    assert (await reconciler.reconcile(StateKey(kind=ResourceKind.PROJECT, name=project), None)).actions == []
    observed = await harbor.get_project(project)
    assert observed is not None and observed.owner_name == owner


async def test_exact_names_and_paging_on_real_harbor(harbor, names, cleanup):
    projects, _ = cleanup
    base = names["project"]
    for suffix in ("", "x", "-y"):
        projects.append(base + suffix)
        await harbor.create_project(base + suffix)
    assert [p.name for p in await harbor.list_projects(name=base)] == [base]
    assert {p.name for p in await harbor.list_projects()} >= {base, base + "x", base + "-y"}
    got = await harbor.get_project(base)
    assert got is not None and got.name == base and got.owner_name == "admin"
