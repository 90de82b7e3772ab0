"""Reconciler against the MockTransport Harbor of conftest.py: idempotence, ownership, robots,
members, deletion order, requeue."""

from __future__ import annotations

import pytest

from streams.desired.model import ProjectState, ResourceKind, RobotState, StateKey, UserState
from streams.harbor import Outcome, TerminalError
from streams.secrets import DirectorySecretStore

pytestmark = pytest.mark.unit

P = StateKey(kind=ResourceKind.PROJECT, name="demo")


def demo(**changes) -> ProjectState:
    base = dict(
        name="demo",
        hopsworks_id=7,
        owner="alice",
        members={"alice": 1, "bob": 4, "carol": 2},
        storage_limit=10 * 2**30,
        robots=(
            RobotState(name="pull", actions=("pull",)),
            RobotState(name="push", actions=("pull", "push")),
        ),
    )
    return ProjectState(**(base | changes))


@pytest.fixture
def users(fake_harbor):
    for name in ("alice", "bob", "carol", "dave"):
        fake_harbor.add_user(name)


async def test_create_then_second_reconcile_writes_nothing(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler()
    first = await reconciler.reconcile(P, demo())
    assert first.outcome == "done"
    assert {(r.action.kind, r.action.resource) for r in first.results} == {
        ("create", "project"),
        ("create", "member"),
        ("create", "robot"),
    }
    assert fake_harbor.member_roles("demo") == {"admin": 1, "alice": 1, "bob": 4, "carol": 2}
    quota = next(
        q for q in fake_harbor.quotas.values() if q["project_id"] == fake_harbor.project("demo")["project_id"]
    )
    assert quota["hard"]["storage"] == 10 * 2**30
    assert sorted(r["name"] for r in fake_harbor.project_robots("demo")) == [
        "robot$demo+pull",
        "robot$demo+push",
    ]

    writes_before = len(fake_harbor.writes)
    second = await reconciler.reconcile(P, demo())
    assert second.outcome == "done" and second.actions == [] and second.writes == 0
    assert len(fake_harbor.writes) == writes_before


async def test_every_page_is_read(fake_harbor, make_reconciler, users):
    # page size 2 in the fake: 4 members and 2 robots span several pages; a missed page would
    # show up as members to create again (409) or robots to create again (duplicates)
    reconciler = make_reconciler()
    await reconciler.reconcile(P, demo())
    assert await reconciler.plan(P, demo()) == []
    member_pages = [e for e in fake_harbor.log if e == ("GET", "/api/v2.0/projects/demo/members")]
    assert len(member_pages) >= 2


async def test_robot_secret_is_chosen_stored_and_restored(fake_harbor, make_reconciler, users, tmp_path):
    reconciler = make_reconciler()
    await reconciler.reconcile(P, demo())
    store = DirectorySecretStore(tmp_path / "secrets")
    robot = next(r for r in fake_harbor.project_robots("demo") if r["name"] == "robot$demo+pull")
    stored = store.get("demo+pull")
    assert stored is not None and robot["secret"] == stored  # Harbor's own secret was replaced

    robot["secret"] = "ChangedByHand1"  # someone resets it in the UI
    result = await reconciler.reconcile(P, demo())
    assert [(a.kind, a.resource, a.name) for a in result.actions] == [("update", "robot_secret", "pull")]
    assert robot["secret"] == stored

    robot_ids = set(fake_harbor.robots)
    store.delete("demo+pull")  # the store lost it: a new secret, same robot
    await reconciler.reconcile(P, demo())
    assert set(fake_harbor.robots) == robot_ids
    assert robot["secret"] == store.get("demo+pull") != stored


async def test_create_secret_honoured_needs_no_patch(fake_harbor, make_reconciler, users):
    fake_harbor.honour_create_secret = True
    await make_reconciler().reconcile(P, demo())
    assert not [w for w in fake_harbor.writes if w[0] == "PATCH"]


async def test_robot_permission_drift_is_updated_in_place(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler()
    await reconciler.reconcile(P, demo())
    ids = {r["name"]: rid for rid, r in fake_harbor.robots.items()}
    wider = demo(
        robots=(
            RobotState(name="pull", actions=("pull", "push")),
            RobotState(name="push", actions=("pull", "push")),
        )
    )
    result = await reconciler.reconcile(P, wider)
    assert [(a.kind, a.resource, a.name) for a in result.actions] == [("update", "robot", "pull")]
    assert {r["name"]: rid for rid, r in fake_harbor.robots.items()} == ids  # same robots, no delete+create
    robot = fake_harbor.robots[ids["robot$demo+pull"]]
    assert {a["action"] for a in robot["permissions"][0]["access"]} == {"pull", "push"}

    robot["disable"] = True  # disabled by hand: enabled again
    assert [a.resource for a in (await reconciler.reconcile(P, wider)).actions] == ["robot"]
    assert robot["disable"] is False


async def test_members_follow_desired_but_own_account_stays(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler()
    await reconciler.reconcile(P, demo())
    result = await reconciler.reconcile(P, demo(members={"alice": 1, "bob": 2, "dave": 4}))
    assert [(a.kind, a.name) for a in result.actions if a.resource == "member"] == [
        ("create", "dave"),
        ("update", "bob"),
        ("delete", "carol"),
    ]
    assert fake_harbor.member_roles("demo") == {"admin": 1, "alice": 1, "bob": 2, "dave": 4}


async def test_member_whose_user_is_missing_requeues(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler(requeue_after=2.5)
    result = await reconciler.reconcile(P, demo(members={"alice": 1, "zoe": 2}))
    assert result.outcome == "requeue" and result.requeue_after == 2.5
    assert [r.outcome for r in result.results if r.action.name == "zoe"] == [None]
    fake_harbor.add_user("zoe")
    again = await reconciler.reconcile(P, demo(members={"alice": 1, "zoe": 2}))
    assert again.outcome == "done" and [a.name for a in again.actions] == ["zoe"]


async def test_hand_made_changes_are_undone(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler()
    await reconciler.reconcile(P, demo())
    pid = fake_harbor.project("demo")["project_id"]
    quota = next(q for q in fake_harbor.quotas.values() if q["project_id"] == pid)
    quota["hard"]["storage"] = 5
    members = fake_harbor.members[pid]
    bob = next(k for k, v in members.items() if v["entity_name"] == "bob")
    members[bob]["role_id"] = 3
    members[999] = {"entity_name": "dave", "entity_type": "u", "role_id": 2}
    members[998] = {"entity_name": "devs", "entity_type": "g", "role_id": 2}  # a group: not ours
    result = await reconciler.reconcile(P, demo())
    assert [str(a) for a in result.actions] == [
        "update quota demo (storage 5 -> 10737418240)",
        "update member bob (role 3 -> 4)",
        "delete member dave (role 2)",
    ]
    assert await reconciler.plan(P, demo()) == []
    assert 998 in members


async def test_foreign_project_is_terminal_and_untouched(fake_harbor, make_reconciler, users):
    fake_harbor.add_user("mallory")
    fake_harbor.add_project("demo", owner="mallory")
    with pytest.raises(TerminalError) as error:
        await make_reconciler().reconcile(P, demo())
    assert error.value.reason == "foreign_project"
    assert fake_harbor.writes == []
    assert (await make_reconciler().reconcile(P, None)).actions == []  # never deleted either
    assert fake_harbor.project("demo") is not None


async def test_adopted_project_is_managed(fake_harbor, make_reconciler, users):
    fake_harbor.add_user("mallory")
    fake_harbor.add_project("demo", owner="mallory")
    result = await make_reconciler(adopted_projects=frozenset({"demo"})).reconcile(P, demo())
    assert result.outcome == "done"
    assert fake_harbor.member_roles("demo") == {"alice": 1, "bob": 4, "carol": 2}


async def test_conflict_on_create_for_foreign_project(fake_harbor, make_reconciler, users, monkeypatch):
    reconciler = make_reconciler()
    actions = await reconciler.plan(P, demo())  # planned while absent ...
    fake_harbor.add_user("mallory")
    fake_harbor.add_project("demo", owner="mallory")  # ... created by someone else before the POST
    with pytest.raises(TerminalError) as error:
        await reconciler._applier.apply("demo", actions)
    assert error.value.reason == "foreign_project"
    assert fake_harbor.member_roles("demo") == {"mallory": 1}


async def test_delete_purges_rules_and_repositories_first(fake_harbor, make_reconciler, users, tmp_path):
    reconciler = make_reconciler()
    await reconciler.reconcile(P, demo())
    pid = fake_harbor.project("demo")["project_id"]
    fake_harbor.repositories[pid] = [f"demo/env{i}" for i in range(5)] + ["demo/nested/path"]
    fake_harbor.rules[pid] = [41]
    result = await reconciler.reconcile(P, None)
    assert result.outcome == "done"
    assert [a.resource for a in result.actions] == ["immutable_rule"] + ["repository"] * 6 + ["project"]
    assert fake_harbor.project("demo") is None
    assert fake_harbor.robots == {}
    assert DirectorySecretStore(tmp_path / "secrets").get("demo+pull") is None
    assert (await reconciler.reconcile(P, None)).actions == []


async def test_delete_requeues_when_a_repository_appears(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler()
    await reconciler.reconcile(P, demo())
    actions = await reconciler.plan(P, None)
    fake_harbor.repositories[fake_harbor.project("demo")["project_id"]].append("demo/late")
    results = await reconciler._applier.apply("demo", actions)
    assert [r.outcome for r in results] == [None]
    result = await reconciler.reconcile(P, None)
    assert [a.resource for a in result.actions] == ["repository", "project"] and result.outcome == "done"


async def test_users_created_updated_and_kept(fake_harbor, make_reconciler):
    reconciler = make_reconciler()
    key = StateKey(kind=ResourceKind.USER, name="erin")
    erin = UserState(username="erin", email="erin@example.com", realname="Erin E")
    first = await reconciler.reconcile(key, erin)
    assert [r.outcome for r in first.results] == [Outcome.CREATED]
    created = next(u for u in fake_harbor.users.values() if u["username"] == "erin")
    assert created["comment"] == "managed by hopsharbor"
    assert (await reconciler.reconcile(key, erin)).actions == []
    moved = erin.model_copy(update={"email": "erin@new.example.com"})
    assert [str(a) for a in (await reconciler.reconcile(key, moved)).actions] == [
        "update user erin (email erin@example.com -> erin@new.example.com)"
    ]
    inactive = moved.model_copy(update={"active": False})
    assert (await reconciler.reconcile(key, inactive)).actions == []  # account kept
    assert (await reconciler.reconcile(key, None)).actions == []  # delete_users=False: kept
    assert any(u["username"] == "erin" for u in fake_harbor.users.values())

    deleting = make_reconciler(delete_users=True)
    assert [a.kind for a in (await deleting.reconcile(key, None)).actions] == ["delete"]
    assert not any(u["username"] == "erin" for u in fake_harbor.users.values())


async def test_users_not_made_by_hopsharbor_are_never_deleted(fake_harbor, make_reconciler):
    fake_harbor.add_user("frank", comment="made by hand")
    reconciler = make_reconciler(delete_users=True)
    assert (await reconciler.reconcile(StateKey(kind=ResourceKind.USER, name="frank"), None)).actions == []
    assert (await reconciler.reconcile(StateKey(kind=ResourceKind.USER, name="admin"), None)).actions == []


async def test_email_taken_by_another_user_is_terminal(fake_harbor, make_reconciler):
    fake_harbor.add_user("gina", email="shared@example.com")
    key = StateKey(kind=ResourceKind.USER, name="hank")
    with pytest.raises(TerminalError) as error:
        await make_reconciler().reconcile(key, UserState(username="hank", email="shared@example.com"))
    assert error.value.reason == "conflict"


async def test_ldap_mode_never_touches_users(fake_harbor, make_reconciler):
    key = StateKey(kind=ResourceKind.USER, name="ivan")
    result = await make_reconciler(db_auth=False).reconcile(
        key, UserState(username="ivan", email="i@example.com")
    )
    assert result.actions == [] and fake_harbor.log == []


async def test_plan_writes_nothing(fake_harbor, make_reconciler, users):
    actions = await make_reconciler().plan(P, demo())
    assert [a.resource for a in actions][:1] == ["project"]
    assert fake_harbor.writes == []


async def test_retriable_errors_are_retried_then_raised(fake_harbor, make_reconciler, users):
    from streams.harbor import RetriableError

    fake_harbor.fail_next = [503, 502]
    assert (await make_reconciler().reconcile(P, demo())).outcome == "done"
    fake_harbor.fail_next = [500] * 10
    with pytest.raises(RetriableError) as error:
        await make_reconciler().reconcile(P, demo(storage_limit=1))
    assert error.value.reason == "server"


async def test_concurrent_reconciles_of_one_key_are_serialised(fake_harbor, make_reconciler, users):
    import asyncio

    reconciler = make_reconciler()
    results = await asyncio.gather(*(reconciler.reconcile(P, demo()) for _ in range(4)))
    assert sum(1 for r in results if r.actions) == 1
    assert len(fake_harbor.project_robots("demo")) == 2
    assert reconciler._locks == {}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cache_makes_a_change_cost_only_its_writes(fake_harbor, make_reconciler, users):
    clock = Clock()
    reconciler = make_reconciler(clock=clock, cache_ttl=60)
    await reconciler.reconcile(P, demo())
    calls = len(fake_harbor.log)
    assert (await reconciler.reconcile(P, demo())).actions == []
    assert len(fake_harbor.log) == calls  # converged and cached: not a single call

    result = await reconciler.reconcile(P, demo(members={"alice": 1, "bob": 4, "carol": 2, "dave": 2}))
    assert [str(a) for a in result.actions] == ["create member dave (role 2)"]
    assert fake_harbor.log[calls:] == [("POST", "/api/v2.0/projects/demo/members")]

    # what the cache believes equals what a fresh read finds
    fresh = make_reconciler(cache_ttl=0)
    assert await fresh.plan(P, demo(members={"alice": 1, "bob": 4, "carol": 2, "dave": 2})) == []


async def test_cache_expires_and_fresh_sees_hand_made_changes(fake_harbor, make_reconciler, users):
    clock = Clock()
    reconciler = make_reconciler(clock=clock, cache_ttl=60)
    await reconciler.reconcile(P, demo())
    pid = fake_harbor.project("demo")["project_id"]
    bob = next(k for k, v in fake_harbor.members[pid].items() if v["entity_name"] == "bob")
    fake_harbor.members[pid][bob]["role_id"] = 3
    assert (await reconciler.reconcile(P, demo())).actions == []  # trusted the cache
    assert [a.name for a in (await reconciler.reconcile(P, demo(), fresh=True)).actions] == ["bob"]
    fake_harbor.members[pid][bob]["role_id"] = 3
    clock.now += 61
    assert [a.name for a in (await reconciler.reconcile(P, demo())).actions] == ["bob"]


async def test_stale_cache_write_failure_replans_from_harbor(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler(clock=Clock(), cache_ttl=60)
    await reconciler.reconcile(P, demo())
    pid = fake_harbor.project("demo")["project_id"]
    bob = next(k for k, v in fake_harbor.members[pid].items() if v["entity_name"] == "bob")
    del fake_harbor.members[pid][bob]  # removed by hand; the cache still has member id `bob`
    result = await reconciler.reconcile(P, demo(members={"alice": 1, "bob": 2, "carol": 2}))
    assert result.outcome == "done" and [str(a) for a in result.actions] == ["create member bob (role 2)"]
    assert fake_harbor.member_roles("demo")["bob"] == 2


async def test_cache_after_delete_and_lru_bound(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler(clock=Clock(), cache_ttl=60, cache_max_keys=1)
    await reconciler.reconcile(P, demo())
    await reconciler.reconcile(P, None)
    calls = len(fake_harbor.log)
    assert (await reconciler.reconcile(P, None)).actions == [] and len(fake_harbor.log) == calls
    await reconciler.reconcile(StateKey(kind=ResourceKind.PROJECT, name="other"), None)
    assert len(reconciler.cache) == 1


async def test_owner_is_looked_up_when_harbor_omits_its_name(fake_harbor, make_reconciler, users):
    fake_harbor.add_user("mallory")
    pid = fake_harbor.add_project("demo", owner="mallory")
    del fake_harbor.projects[pid]["owner_name"]
    with pytest.raises(TerminalError) as error:
        await make_reconciler().reconcile(P, demo())
    assert error.value.reason == "foreign_project"
    fake_harbor.projects[pid]["owner_id"] = 1  # admin's
    assert (await make_reconciler().reconcile(P, demo())).outcome == "done"


async def test_cache_reads_harbor_before_using_an_id_it_was_not_told(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler(clock=Clock(), cache_ttl=60)
    await reconciler.reconcile(P, demo())  # the quota id of a new project is not in Harbor's answer
    calls = len(fake_harbor.log)
    result = await reconciler.reconcile(P, demo(storage_limit=5))
    assert [str(a) for a in result.actions] == ["update quota demo (storage 10737418240 -> 5)"]
    assert ("GET", "/api/v2.0/quotas") in fake_harbor.log[calls:]
    assert (await make_reconciler().plan(P, demo(storage_limit=5))) == []


async def test_request_ids_come_from_the_event_or_the_key(fake_harbor, make_reconciler, users):
    reconciler = make_reconciler()
    await reconciler.reconcile(P, demo(), request_id="hopsharbor.state-3-1207")
    assert fake_harbor.request_ids[0] == "hopsharbor.state-3-1207.1"
    assert len(set(fake_harbor.request_ids)) == len(fake_harbor.request_ids)  # one id per request
    assert all(rid.startswith("hopsharbor.state-3-1207.") for rid in fake_harbor.request_ids)
    fake_harbor.request_ids.clear()
    await reconciler.reconcile(P, demo())
    assert all(rid.startswith("hopsharbor:project/demo:") for rid in fake_harbor.request_ids)


async def test_lanes_run_beside_each_other_but_members_one_at_a_time(fake_harbor, users, tmp_path):
    import asyncio

    import httpx

    from streams.harbor import HarborClient
    from streams.reconcile import ReconcileConfig, Reconciler

    inflight: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        kind = request.url.path.split("/")[-1] if request.method != "GET" else "read"
        inflight.append(kind)
        overlaps.append(tuple(sorted(inflight)))
        await asyncio.sleep(0.002)
        inflight.remove(kind)
        return fake_harbor(request)

    async with HarborClient(
        "http://h", "admin", "Harbor12345", transport=httpx.MockTransport(slow)
    ) as client:
        reconciler = Reconciler(
            client, ReconcileConfig(owner_account="admin"), DirectorySecretStore(tmp_path)
        )
        assert (await reconciler.reconcile(P, demo())).outcome == "done"
    assert max(o.count("members") for o in overlaps) == 1  # member writes are serialised
    assert any("members" in o and "robots" in o for o in overlaps)  # beside the robot lane
    assert fake_harbor.member_roles("demo") == {"admin": 1, "alice": 1, "bob": 4, "carol": 2}
