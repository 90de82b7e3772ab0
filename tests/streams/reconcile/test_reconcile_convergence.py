"""Property: after any sequence of desired states, each reconcile leaves Harbor exactly as desired
(a fresh plan is empty), with and without the observed cache; no robot is ever duplicated."""

from __future__ import annotations

import asyncio
import tempfile

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.desired.model import ProjectState, ResourceKind, RobotState, StateKey
from streams.harbor import HarborClient
from streams.harbor.client import robot_actions
from streams.reconcile import ReconcileConfig, Reconciler
from streams.reconcile.cache import UNKNOWN_ID
from streams.reconcile.observe import ObservedProject, observe_project
from streams.secrets import DirectorySecretStore

pytestmark = pytest.mark.unit

USERS = ("u1", "u2", "u3", "u4")
KEY = StateKey(kind=ResourceKind.PROJECT, name="prop")

robots = st.dictionaries(
    st.sampled_from(("pull", "push", "ci")),
    st.sets(st.sampled_from(("pull", "push")), min_size=1).map(lambda s: tuple(sorted(s))),
    max_size=3,
).map(lambda d: tuple(RobotState(name=k, actions=v) for k, v in sorted(d.items())))

states = st.one_of(
    st.none(),
    st.builds(
        lambda members, robots, limit: ProjectState(
            name="prop",
            hopsworks_id=1,
            owner="u1",
            members={"u1": 1} | members,
            robots=robots,
            storage_limit=limit,
        ),
        st.dictionaries(st.sampled_from(USERS[1:]), st.sampled_from((2, 3, 4, 5)), max_size=3),
        robots,
        st.sampled_from((-1, 1024, 2**30)),
    ),
)


async def _run(world, history: list[ProjectState | None], cache_ttl: float) -> None:
    fake, ADMIN, ADMIN_PASSWORD = world()
    for user in USERS:
        fake.add_user(user)
    transport = httpx.MockTransport(fake)

    async def no_sleep(_: float) -> None:
        return None

    with tempfile.TemporaryDirectory() as secrets_dir:
        async with HarborClient(
            "http://h", ADMIN, ADMIN_PASSWORD, transport=transport, sleep=no_sleep
        ) as client:
            store = DirectorySecretStore(secrets_dir)
            reconciler = Reconciler(client, ReconcileConfig(owner_account=ADMIN, cache_ttl=cache_ttl), store)
            checker = Reconciler(client, ReconcileConfig(owner_account=ADMIN), store)
            for desired in history:
                result = await reconciler.reconcile(KEY, desired)
                assert result.outcome == "done", result
                assert await checker.plan(KEY, desired) == []
                cached = reconciler.cache.get(KEY.encode())
                if cached is not None:  # what the cache believes is what Harbor holds
                    fresh = await _fresh(client, store, desired)
                    known = {m.entity_name for m in getattr(cached, "members", ()) if m.id != UNKNOWN_ID}
                    assert _view(cached, known) == _view(fresh, known)
                if desired is None:
                    assert fake.project("prop") is None
                    continue
                assert fake.member_roles("prop") == {ADMIN: 1} | desired.members
                names = [r["name"] for r in fake.project_robots("prop")]
                assert sorted(names) == sorted(f"robot$prop+{r.name}" for r in desired.robots)
                for robot in fake.project_robots("prop"):
                    assert robot["secret"] == store.get("prop+" + robot["name"].rsplit("+", 1)[1])


async def _fresh(client, store, desired):
    config = ReconcileConfig(owner_account="admin", verify_robot_secrets=False)
    wanted = frozenset(r.name for r in desired.robots) if desired else frozenset()
    return await observe_project(client, config, store, "prop", for_deletion=False, robots_wanted=wanted)


def _view(observed: ObservedProject, known: set[str]):
    if observed.project is None:
        return None
    return (
        observed.project.project_id,
        {m.entity_name: m.role_id for m in observed.members},
        {m.entity_name: m.id for m in observed.members if m.entity_name in known},
        {r.short_name: (r.robot.id, robot_actions(r.robot.permissions, "prop")) for r in observed.robots},
        observed.quota.storage if observed.quota else None,
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],  # a stateless factory
)
@given(history=st.lists(states, min_size=1, max_size=6), cache_ttl=st.sampled_from((0.0, 3600.0)))
def test_every_history_converges(harbor_world, history, cache_ttl):
    asyncio.run(_run(harbor_world, history, cache_ttl))
