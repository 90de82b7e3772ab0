"""Contract test: hopsharbor's Harbor client and the in-memory Harbor against Harbor's real API spec.

The reconciler tests run against the in-memory Harbor of tests/streams/reconcile/conftest.py,
because Harbor core cannot be built here. This module keeps both sides honest with the release's
own api/v2.0/swagger.yaml (see swagger_contract.py): every request HarborClient sends in the
scenarios below must match a declared operation (route, query parameters, headers, JSON body), and
every answer of the in-memory Harbor must match that operation's declared response.

Parts: (1) scenarios written here (create a project with members, robots and quota; update it;
undo changes made by hand; delete it with repositories and immutable rules; users; the client's
other calls: paging, /users/search, robots, PATCH of a robot secret, error statuses, retries),
each run once: `test_requests_follow_spec[...]` fails on a request mismatch (the client,
streams/harbor/, is wrong), `test_fake_answers_follow_spec[...]` on a response mismatch (the
in-memory Harbor is wrong); (2) every async test of tests/streams/reconcile/test_reconciler.py and
test_harbor_ensure.py replayed unchanged with its fixtures wired through the checker; (3) every
route written in streams/harbor/client.py is a spec operation and some scenario exercises it;
(4) the client's typed records read only fields the spec declares; (5) the checker itself
reports what it should, and the spec loader works or says why not.
Known mismatches awaiting a fix elsewhere are listed in KNOWN_MISMATCHES (ignored by the checks
above, and each one an xfail(strict=True) test that fails once the mismatch is gone).
Only the token service (GET /service/token, not part of the API spec) is passed through unchecked.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from streams.desired.model import ProjectState, ResourceKind, RobotState, StateKey, UserState
from streams.harbor import (
    ConflictError,
    HarborClient,
    NotFoundError,
    PreconditionFailedError,
    TerminalError,
    models,
)
from streams.reconcile import ReconcileConfig, Reconciler
from streams.secrets import DirectorySecretStore
from tests.streams.harbor.swagger_contract import (
    ContractRecorder,
    HarborSpec,
    Mismatch,
    SpecUnavailable,
    go_mod_cache,
    load_spec_path,
)
from tests.streams.reconcile import test_harbor_ensure as ensure_tests
from tests.streams.reconcile import test_reconciler as reconciler_tests
from tests.streams.reconcile.conftest import ADMIN, ADMIN_PASSWORD, FakeHarbor
from tests.streams.reconcile.test_reconciler import users  # noqa: F401 (a fixture the replayed tests use)

pytestmark = pytest.mark.unit

CLIENT_SOURCE = Path(__file__).resolve().parents[3] / "streams" / "harbor" / "client.py"
# Requests outside /api/v2.0 that the client makes on purpose; not in the API spec, so unchecked.
OUTSIDE_SPEC = {"GET /service/token"}


@pytest.fixture(scope="module")
def spec() -> HarborSpec:
    try:
        path = load_spec_path()
    except SpecUnavailable as exc:
        pytest.skip(f"Harbor's API spec is unavailable: {exc}")
    return HarborSpec.load(path)


# -- the world a scenario runs in -----------------------------------------------------------------


async def _no_sleep(_: float) -> None:
    return None


@dataclass
class World:
    spec: HarborSpec
    tmp: Path
    fake: FakeHarbor = field(default_factory=lambda: FakeHarbor(page_size_cap=2))  # several pages per list
    recorder: ContractRecorder = field(init=False)
    client: HarborClient = field(init=False)

    def __post_init__(self) -> None:
        self.recorder = ContractRecorder(self.spec, self.fake)
        self.client = HarborClient(
            "http://harbor.test",
            ADMIN,
            ADMIN_PASSWORD,
            transport=httpx.MockTransport(self.recorder),
            sleep=_no_sleep,
        )

    def reconciler(self, **config: object) -> Reconciler:
        config.setdefault("owner_account", ADMIN)
        return Reconciler(self.client, ReconcileConfig(**config), DirectorySecretStore(self.tmp / "secrets"))  # type: ignore[arg-type]

    def users(self, *names: str) -> None:
        for name in names:
            self.fake.add_user(name)


P = StateKey(kind=ResourceKind.PROJECT, name="demo")


def demo(**changes: object) -> ProjectState:
    base: dict[str, object] = dict(
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
    return ProjectState(**(base | changes))  # type: ignore[arg-type]


# -- scenarios: each drives the client and states what it must have exercised ---------------------


async def create_project(w: World) -> set[str]:
    w.users("alice", "bob", "carol")
    reconciler = w.reconciler()
    assert (await reconciler.reconcile(P, demo())).outcome == "done"
    assert (await reconciler.reconcile(P, demo())).actions == []  # converged: reads only
    assert w.fake.member_roles("demo") == {"admin": 1, "alice": 1, "bob": 4, "carol": 2}
    return {
        "getProject",
        "createProject",
        "listProjectMembers",
        "createProjectMember",
        "ListRobot",
        "CreateRobot",
        "RefreshSec",
        "listQuotas",
    }


async def update_project(w: World) -> set[str]:
    w.users("alice", "bob", "carol", "dave")
    reconciler = w.reconciler()
    await reconciler.reconcile(P, demo())
    changed = demo(
        members={"alice": 1, "bob": 2, "dave": 4},
        storage_limit=5 * 2**30,
        robots=(
            RobotState(name="pull", actions=("pull", "push")),
            RobotState(name="push", actions=("pull", "push")),
        ),
    )
    result = await reconciler.reconcile(P, changed)
    assert {(a.kind, a.resource) for a in result.actions} >= {
        ("update", "quota"),
        ("update", "member"),
        ("delete", "member"),
        ("create", "member"),
        ("update", "robot"),
    }
    assert await reconciler.plan(P, changed) == []
    return {"updateQuota", "updateProjectMember", "deleteProjectMember", "createProjectMember", "UpdateRobot"}


async def hand_changes_undone(w: World) -> set[str]:
    w.users("alice", "bob", "carol")
    reconciler = w.reconciler()
    await reconciler.reconcile(P, demo())
    pid = w.fake.project("demo")["project_id"]  # type: ignore[index]
    next(q for q in w.fake.quotas.values() if q["project_id"] == pid)["hard"]["storage"] = 5
    members = w.fake.members[pid]
    bob = next(k for k, v in members.items() if v["entity_name"] == "bob")
    members[bob]["role_id"] = 3
    robots = w.fake.project_robots("demo")
    robots[0]["secret"] = "ChangedByHand1"
    robots[1]["disable"] = True
    result = await reconciler.reconcile(P, demo(), fresh=True)
    assert {(a.kind, a.resource) for a in result.actions} == {
        ("update", "quota"),
        ("update", "member"),
        ("update", "robot_secret"),
        ("update", "robot"),
    }
    assert await reconciler.plan(P, demo()) == []
    gone = next(rid for rid, r in w.fake.robots.items() if r["project_id"] == pid)
    del w.fake.robots[gone]  # deleted by hand: made again
    assert [(a.kind, a.resource) for a in (await reconciler.reconcile(P, demo())).actions] == [
        ("create", "robot")
    ]
    return {"updateQuota", "updateProjectMember", "RefreshSec", "UpdateRobot", "CreateRobot"}


async def delete_with_repositories(w: World) -> set[str]:
    w.users("alice", "bob", "carol")
    reconciler = w.reconciler()
    await reconciler.reconcile(P, demo())
    pid = w.fake.project("demo")["project_id"]  # type: ignore[index]
    w.fake.repositories[pid] = [f"demo/env{i}" for i in range(3)] + ["demo/nested/path"]
    w.fake.rules[pid] = [41, 42]
    actions = await reconciler.plan(P, None)
    w.fake.repositories[pid].append("demo/late")  # pushed between plan and apply: 412 on delete
    await reconciler._applier.apply("demo", actions)
    assert w.fake.project("demo") is not None
    result = await reconciler.reconcile(P, None)
    assert result.outcome == "done" and w.fake.project("demo") is None
    assert (await reconciler.reconcile(P, None)).actions == []
    assert any(e.status == 412 and e.operation_id == "deleteProject" for e in w.recorder.exchanges)
    return {"ListImmuRules", "DeleteImmuRule", "listRepositories", "deleteRepository", "deleteProject"}


async def users_lifecycle(w: World) -> set[str]:
    key = StateKey(kind=ResourceKind.USER, name="erin")
    erin = UserState(username="erin", email="erin@example.com", realname="Erin E")
    reconciler = w.reconciler(delete_users=True)
    await reconciler.reconcile(key, erin)
    await reconciler.reconcile(key, erin.model_copy(update={"email": "erin@new.example.com"}))
    w.fake.add_user("gina", email="shared@example.com")
    with pytest.raises(TerminalError):  # 409: the email belongs to someone else
        await reconciler.reconcile(
            StateKey(kind=ResourceKind.USER, name="hank"),
            UserState(username="hank", email="shared@example.com"),
        )
    assert [a.kind for a in (await reconciler.reconcile(key, None)).actions] == ["delete"]
    return {"listUsers", "createUser", "updateUserProfile", "deleteUser"}


async def client_calls(w: World) -> set[str]:
    """The client's own calls beside the reconciler's: paging, search, errors, robots, token."""
    c = w.client
    assert await c.ping()
    with pytest.raises(NotFoundError):  # the in-memory Harbor has no /users/current: request checked only
        await c.current_user()
    for i in range(7):
        await c.create_project(f"page{i}", 2**30)
    assert len(await c.list_projects()) == 7  # 4 pages of 2
    assert [p.name for p in await c.list_projects(name="page3")] == ["page3"]
    assert await c.get_project("nosuch") is None  # 404
    with pytest.raises(ConflictError):
        await c.create_project("page1")
    with pytest.raises(TerminalError):
        await c.create_project("Bad Name")  # 400
    uid = await c.create_user("zoe", "zoe@example.com", "Zoe", "Passw0rdZ")
    w.fake.add_user("zoey")
    assert [u.username for u in await c.search_users("zoe")] == ["zoe"]  # fuzzy answer filtered
    assert (await c.find_user("zoe")).user_id == uid  # type: ignore[union-attr]
    assert (await c.get_user(uid)).email == "zoe@example.com"  # type: ignore[arg-type,union-attr]
    assert await c.get_user(99999) is None
    assert await c.ensure_member("page1", "zoe", 2) == "created"
    with pytest.raises(ConflictError):
        await c.add_member("page1", "zoe", 2)
    with pytest.raises(NotFoundError):
        await c.add_member("page1", "nobody", 2)
    assert await c.ensure_member("page1", "zoe", 4) == "updated"
    assert await c.ensure_member_absent("page1", "zoe") == "deleted"
    await c.delete_member("page1", 424242)  # absent: still fine
    project = await c.get_project("page1")
    assert project is not None
    quota = await c.get_project_quota(project.project_id)
    assert quota is not None and quota.storage == 2**30
    assert await c.ensure_quota(project.project_id, -1) == "updated"
    robot_id, full, secret = await c.create_robot("page1", "ci", ["pull"], secret="Chosen0Secret")
    assert full == "robot$page1+ci"
    await c.set_robot_secret(robot_id, "Chosen0Secret")
    assert await c.check_robot_secret(full, "Chosen0Secret")
    assert not await c.check_robot_secret(full, "Wrong0Secret")
    robots = await c.list_project_robots(project.project_id)
    await c.update_robot(robots[0], "page1", ["pull", "push"])
    assert (
        await c.ensure_robot("page1", project.project_id, "ci", ["pull", "push"], "Chosen0Secret")
        == "unchanged"
    )
    await c.delete_robot(robot_id)
    await c.delete_robot(robot_id)  # gone: 404 accepted
    w.fake.repositories[project.project_id] = ["page1/a", "page1/a/b/c"]
    with pytest.raises(PreconditionFailedError):
        await c.delete_project("page1")
    assert [r.name for r in await c.list_repositories("page1")] == ["page1/a", "page1/a/b/c"]
    assert await c.ensure_project_absent("page1") == "deleted"
    assert await c.delete_project("page1") is False
    assert uid is not None
    assert await c.delete_user(uid) and not await c.delete_user(uid)
    w.fake.fail_next = [503, 500]
    assert len(await c.list_projects()) == 6  # retried
    return {
        "getPing",
        "getCurrentUserInfo",
        "listProjects",
        "createProject",
        "getProject",
        "createUser",
        "searchUsers",
        "listUsers",
        "getUser",
        "listProjectMembers",
        "createProjectMember",
        "updateProjectMember",
        "deleteProjectMember",
        "listQuotas",
        "updateQuota",
        "CreateRobot",
        "RefreshSec",
        "ListRobot",
        "UpdateRobot",
        "DeleteRobot",
        "listRepositories",
        "deleteRepository",
        "ListImmuRules",
        "deleteProject",
        "deleteUser",
    }


SCENARIOS: dict[str, Callable[[World], Awaitable[set[str]]]] = {
    "create_project": create_project,
    "update_project": update_project,
    "hand_changes_undone": hand_changes_undone,
    "delete_with_repositories": delete_with_repositories,
    "users_lifecycle": users_lifecycle,
    "client_calls": client_calls,
}

# Mismatches known and waiting for a fix outside this module: (direction, operation id, field) ->
# where and why. The scenario tests ignore exactly these; test_known_mismatch_is_fixed fails
# (strict xfail) as soon as one no longer happens, so the entry gets removed with the fix.
KNOWN_MISMATCHES: dict[tuple[str, str, str], str] = {
}


def _key(m: Mismatch) -> tuple[str, str, str]:
    return (m.direction, m.operation_id, m.field)


_RUNS: dict[str, tuple[ContractRecorder, set[str]]] = {}


async def scenario_run(
    spec: HarborSpec, name: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ContractRecorder, set[str]]:
    """Run a scenario once per session (the checks of both directions read the same run)."""
    if name not in _RUNS:
        world = World(spec, tmp_path_factory.mktemp(name))
        async with world.client:
            expected = await SCENARIOS[name](world)
        _RUNS[name] = (world.recorder, expected)
    return _RUNS[name]


def _report(found: list[Mismatch]) -> str:
    return "\n".join(dict.fromkeys(str(m) for m in found))


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_requests_follow_spec(
    spec: HarborSpec, name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    recorder, expected = await scenario_run(spec, name, tmp_path_factory)
    found = [m for m in recorder.of("request") if _key(m) not in KNOWN_MISMATCHES]
    assert not found, "HarborClient requests that differ from Harbor's API spec:\n" + _report(found)
    assert expected <= recorder.operation_ids, f"not exercised: {sorted(expected - recorder.operation_ids)}"
    outside = set(recorder.skipped) - OUTSIDE_SPEC
    assert not outside, f"requests outside /api/v2.0 that nothing checks: {sorted(outside)}"


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_fake_answers_follow_spec(
    spec: HarborSpec, name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    recorder, _ = await scenario_run(spec, name, tmp_path_factory)
    found = [m for m in recorder.of("response") if _key(m) not in KNOWN_MISMATCHES]
    assert not found, "in-memory Harbor answers that differ from Harbor's API spec:\n" + _report(found)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(key, id=f"{key[1]}:{key[2]}", marks=pytest.mark.xfail(strict=True, reason=reason))
        for key, reason in KNOWN_MISMATCHES.items()
    ],
)
async def test_known_mismatch_is_fixed(
    spec: HarborSpec, key: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    seen = []
    for name in SCENARIOS:
        recorder, _ = await scenario_run(spec, name, tmp_path_factory)
        seen += [m for m in recorder.mismatches if _key(m) == key]
    assert not seen, _report(seen)


# -- the reconciler's own unit tests, replayed through the checker -----------------------------------
# The tests of tests/streams/reconcile/ that talk to the in-memory Harbor through the
# `harbor_client` / `make_reconciler` fixtures run again here, unchanged, with those fixtures
# wired through ContractRecorder: whatever traffic they make is checked as well.

REPLAYABLE = {"fake_harbor", "harbor_client", "make_reconciler", "users", "tmp_path", "monkeypatch"}


def _replayed() -> list[Any]:
    cases = []
    for module in (reconciler_tests, ensure_tests):
        for name, function in vars(module).items():
            if not (name.startswith("test_") and inspect.iscoroutinefunction(function)):
                continue
            wanted = set(inspect.signature(function).parameters)
            if wanted <= REPLAYABLE and wanted & {"harbor_client", "make_reconciler"}:
                cases.append(pytest.param(function, id=f"{module.__name__.rsplit('.', 1)[-1]}::{name}"))
    return cases


@pytest.fixture
def recorder(spec: HarborSpec) -> ContractRecorder:
    return ContractRecorder(spec, FakeHarbor(page_size_cap=2))


@pytest.fixture
def fake_harbor(recorder: ContractRecorder) -> FakeHarbor:
    return recorder.handler  # type: ignore[return-value]


@pytest.fixture
async def harbor_client(recorder: ContractRecorder) -> AsyncIterator[HarborClient]:
    async with HarborClient(
        "http://harbor.test", ADMIN, ADMIN_PASSWORD, transport=httpx.MockTransport(recorder), sleep=_no_sleep
    ) as client:
        yield client


@pytest.fixture
def make_reconciler(harbor_client: HarborClient, tmp_path: Path) -> Callable[..., Reconciler]:
    def make(clock: object = None, **config: object) -> Reconciler:
        config.setdefault("owner_account", ADMIN)
        extra = {"clock": clock} if clock else {}
        secrets = DirectorySecretStore(tmp_path / "secrets")
        return Reconciler(harbor_client, ReconcileConfig(**config), secrets, **extra)  # type: ignore[arg-type]

    return make


@pytest.mark.parametrize("function", _replayed())
async def test_reconciler_unit_test_traffic_follows_spec(
    function: Callable[..., Awaitable[None]],
    recorder: ContractRecorder,
    fake_harbor: FakeHarbor,
    harbor_client: HarborClient,
    make_reconciler: Callable[..., Reconciler],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    # async fixtures cannot be fetched with getfixturevalue inside a running loop: all are taken
    # here, and only the (synchronous) `users` fixture is fetched on demand
    available = {
        "fake_harbor": fake_harbor,
        "harbor_client": harbor_client,
        "make_reconciler": make_reconciler,
        "tmp_path": tmp_path,
        "monkeypatch": monkeypatch,
    }
    arguments = {
        name: available[name] if name in available else request.getfixturevalue(name)
        for name in inspect.signature(function).parameters
    }
    await function(**arguments)
    if not recorder.exchanges:
        pytest.skip("the test makes no request to Harbor")
    found = [m for m in recorder.mismatches if _key(m) not in KNOWN_MISMATCHES]
    assert not found, "exchanges that differ from Harbor's API spec:\n" + _report(found)
    outside = set(recorder.skipped) - OUTSIDE_SPEC
    assert not outside, f"requests outside /api/v2.0 that nothing checks: {sorted(outside)}"


# -- every route the client names exists, and the scenarios exercise all of them -------------------

_CALL = re.compile(r'(?:request\(\s*"(?P<method>[A-Z]+)",\s*|get_all\(\s*)"(?P<route>/[^"]*)"(?P<rest>[^)]*)')


def client_routes() -> set[tuple[str, str, bool]]:
    """(method, route template, under /api/v2.0) of every call written in streams/harbor/client.py."""
    routes = set()
    for found in _CALL.finditer(CLIENT_SOURCE.read_text()):
        routes.add((found["method"] or "GET", found["route"], "api=False" not in found["rest"]))
    return routes


def test_every_client_route_is_a_spec_operation(spec: HarborSpec) -> None:
    routes = client_routes()
    assert len(routes) >= 20, routes  # the parser still finds the calls
    missing = []
    for method, route, api in sorted(routes):
        if not api:
            assert f"{method} {route}" in OUTSIDE_SPEC, (
                f"{method} {route} is outside /api/v2.0 and not listed"
            )
            continue
        op, _, _ = spec.match(method, spec.base_path + re.sub(r"\{[^}]+\}", "1", route))
        if op is None:
            missing.append(f"{method} {route}")
    assert not missing, f"client routes with no operation in Harbor's spec: {missing}"


async def test_scenarios_cover_every_client_operation(
    spec: HarborSpec, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wanted = set()
    for method, route, api in client_routes():
        if api:
            op, _, _ = spec.match(method, spec.base_path + re.sub(r"\{[^}]+\}", "1", route))
            if op is not None:
                wanted.add(op.operation_id)
    seen: set[str] = set()
    for name in SCENARIOS:
        recorder, _ = await scenario_run(spec, name, tmp_path_factory)
        seen |= recorder.operation_ids
    assert wanted - seen == set(), f"client operations no scenario exercises: {sorted(wanted - seen)}"


# -- the client's typed records read only fields Harbor declares -----------------------------------

MODEL_DEFINITIONS: dict[type[BaseModel], str] = {
    models.Project: "Project",
    models.Member: "ProjectMemberEntity",
    models.User: "UserResp",
    models.Quota: "Quota",
    models.Robot: "Robot",
    models.RobotPermission: "RobotPermission",
    models.RobotAccess: "Access",
    models.Repository: "Repository",
    models.ImmutableRule: "ImmutableRule",
}


@pytest.mark.parametrize("model", list(MODEL_DEFINITIONS), ids=lambda m: m.__name__)
def test_model_fields_are_declared_by_harbor(spec: HarborSpec, model: type[BaseModel]) -> None:
    definition = MODEL_DEFINITIONS[model]
    unknown = set(model.model_fields) - spec.definition_properties(definition)
    assert not unknown, (
        f"{model.__name__} reads fields that Harbor's {definition} does not have: {sorted(unknown)}"
    )


# -- obtaining the spec --------------------------------------------------------------------------------


def _writable(root: Path) -> None:
    """The Go module cache is read-only; make a temporary one removable."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o700 if path.is_dir() else path.stat().st_mode | 0o600)


def test_spec_is_downloaded_into_an_empty_cache(
    spec: HarborSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the module cache already holds the release zip: serve it as a file proxy, so the download
    # path (go mod download into an empty cache) runs without the network
    download = go_mod_cache() / "cache" / "download"
    monkeypatch.setenv("HOPSHARBOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GOPROXY", f"file://{download}")
    monkeypatch.setenv("GOSUMDB", "off")
    try:
        path = load_spec_path()
        assert path.is_relative_to(tmp_path) and path.name == "swagger.yaml"
        assert len(HarborSpec.load(path).operations) == len(spec.operations)
        assert load_spec_path() == path  # cached: found without asking go again
    finally:
        _writable(tmp_path)


def test_unavailable_spec_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOPSHARBOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GOPROXY", "off")
    try:
        with pytest.raises(SpecUnavailable) as error:
            load_spec_path("v2.15.2")
    finally:
        _writable(tmp_path)
    message = str(error.value)
    assert "github.com/goharbor/harbor@v2.15.2+incompatible" in message
    assert "GOPROXY=off" in message or "no `go` command" in message


# -- the checker itself finds what it should ---------------------------------------------------------

BASE = "http://harbor.test/api/v2.0"


def _request(
    method: str, path: str, *, json: object = None, headers: dict[str, str] | None = None
) -> httpx.Request:
    return httpx.Request(method, BASE + path, json=json, headers=headers)


def _fields(spec: HarborSpec, request: httpx.Request) -> set[tuple[str, str]]:
    _, found = spec.check_request(request)
    return {(m.operation_id, m.field) for m in found}


def test_checker_reports_request_mismatches(spec: HarborSpec) -> None:
    by_name = {"X-Is-Resource-Name": "true"}
    assert (
        _fields(
            spec, _request("POST", "/projects", json={"project_name": "a", "metadata": {"public": "false"}})
        )
        == set()
    )
    assert _fields(spec, _request("POST", "/projects", json={"projectname": "a"})) == {
        ("createProject", "body.projectname")
    }
    assert _fields(
        spec, _request("POST", "/projects", json={"project_name": "a", "metadata": {"public": False}})
    ) == {("createProject", "body.metadata.public")}
    assert _fields(spec, _request("GET", "/projects?pagesize=5&page_size=500")) == {
        ("listProjects", "query.pagesize"),
        ("listProjects", "query.page_size"),
    }
    assert _fields(spec, _request("GET", "/users/search")) == {("searchUsers", "query.username")}
    assert _fields(spec, _request("GET", "/robots?q=Level=project,ProjectID=7")) == set()
    assert _fields(spec, _request("GET", "/users?q=username=a,b")) == {("listUsers", "query.q")}
    assert _fields(spec, _request("GET", "/projects/demo/members")) == {
        ("listProjectMembers", "header.X-Is-Resource-Name")
    }
    assert _fields(spec, _request("GET", "/projects/7/members")) == set()  # an id needs no flag
    assert _fields(spec, _request("GET", "/projects/demo/repositories", headers=by_name)) == {
        ("listRepositories", "header.x-is-resource-name")
    }
    assert _fields(
        spec, _request("PUT", "/projects/demo/members/x", json={"role_id": 2}, headers=by_name)
    ) == {("updateProjectMember", "path.mid")}
    assert _fields(spec, _request("DELETE", "/projects/demo/repositories/a%2Fb")) == {
        ("deleteRepository", "path.repository_name")
    }
    assert _fields(spec, _request("DELETE", "/projects/demo/repositories/a%252Fb")) == set()
    assert _fields(spec, _request("PUT", "/quotas/3", json={"hard": {"storage": "10"}})) == {
        ("updateQuota", "body.hard.storage")
    }
    assert _fields(spec, _request("POST", "/project", json={})) == {("<no operation>", "route")}
    assert _fields(spec, _request("PATCH", "/projects/7", json={})) == {("<no operation>", "route")}


def test_checker_reports_response_mismatches(spec: HarborSpec) -> None:
    def fields(operation_id: str, response: httpx.Response) -> set[str]:
        found, _ = spec.check_response(spec.operation(operation_id), response)
        return {m.field for m in found}

    assert fields("listProjects", httpx.Response(200, json=[{"project_id": 1, "name": "a"}])) == set()
    assert fields("listProjects", httpx.Response(200, json=[{"project_id": "1"}])) == {
        "body (200)[0].project_id"
    }
    assert fields("listProjects", httpx.Response(200, json=[{"project_id": 1, "projectname": "a"}])) == {
        "body (200)[0].projectname"
    }
    assert fields("listProjects", httpx.Response(200, json=[], headers={"X-Total-Count": "x"})) == {
        "header.X-Total-Count"
    }
    assert fields("createProject", httpx.Response(200)) == {"status"}
    assert fields("RefreshSec", httpx.Response(200)) == {"body (200)"}
    assert fields("deleteProject", httpx.Response(200, json={"ok": True})) == {"body (200)"}
    found, notes = spec.check_response(
        spec.operation("getProject"),
        httpx.Response(404, json={"errors": [{"code": "NOT_FOUND", "message": "x"}]}),
    )
    assert found == [] and notes and "404 not declared" in notes[0]
    assert fields("getProject", httpx.Response(404, json={"error": "x"})) == {"body (404).error"}
