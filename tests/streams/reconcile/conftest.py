"""A stateful stand-in for Harbor's API behind httpx.MockTransport (unit tests only).

It answers the routes the reconciler uses with Harbor's documented behaviour: fuzzy ?name= and
/users/search, paging with X-Total-Count and Link rel="next" (so a small page size shows that
every page is read), 409 on duplicates, 412 when deleting a project that has repositories, a
`sid` cookie on every answer and a 403 "CSRF token invalid" for a write that sends it back, and
secret checks on /service/token. The real Harbor is exercised by test_reconcile_harbor.py.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from streams.harbor import HarborClient
from streams.reconcile import ReconcileConfig, Reconciler
from streams.secrets import DirectorySecretStore

ADMIN, ADMIN_PASSWORD = "admin", "Harbor12345"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": str(status), "message": message}]})


@dataclass
class FakeHarbor:
    page_size_cap: int = 100
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    quotas: dict[int, dict[str, Any]] = field(default_factory=dict)
    robots: dict[int, dict[str, Any]] = field(default_factory=dict)
    repositories: dict[int, list[str]] = field(default_factory=dict)
    rules: dict[int, list[int]] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    request_ids: list[str | None] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer before handling
    honour_create_secret: bool = False
    ids: itertools.count = field(default_factory=lambda: itertools.count(100))

    def __post_init__(self) -> None:
        self.users[1] = {
            "user_id": 1,
            "username": ADMIN,
            "email": "admin@example.com",
            "realname": "admin",
            "comment": "",
            "password": ADMIN_PASSWORD,
            "sysadmin_flag": True,
        }

    # -- helpers for tests ----------------------------------------------------------------------

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [entry for entry in self.log if entry[0] in WRITES]

    def project(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.projects.values() if p["name"] == name), None)

    def member_roles(self, name: str) -> dict[str, int]:
        project = self.project(name)
        assert project is not None
        return {m["entity_name"]: m["role_id"] for m in self.members[project["project_id"]].values()}

    def project_robots(self, name: str) -> list[dict[str, Any]]:
        project = self.project(name)
        assert project is not None
        return [r for r in self.robots.values() if r["project_id"] == project["project_id"]]

    def add_user(self, username: str, email: str | None = None, comment: str = "") -> int:
        uid = next(self.ids)
        self.users[uid] = {
            "user_id": uid,
            "username": username,
            "email": email or f"{username}@example.com",
            "realname": username,
            "comment": comment,
            "password": "Passw0rdX",
            "sysadmin_flag": False,
        }
        return uid

    def add_project(self, name: str, owner: str = ADMIN) -> int:
        owner_id = next(u["user_id"] for u in self.users.values() if u["username"] == owner)
        pid = next(self.ids)
        self.projects[pid] = {
            "project_id": pid,
            "name": name,
            "owner_id": owner_id,
            "owner_name": owner,
            "metadata": {"public": "false"},
        }
        self.members[pid] = {
            next(self.ids): {"entity_name": owner, "entity_type": "u", "role_id": 1, "entity_id": owner_id}
        }
        self.quotas[next(self.ids)] = {"project_id": pid, "hard": {"storage": -1}}
        self.repositories[pid] = []
        self.rules[pid] = []
        return pid

    # -- the transport --------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.raw_path.decode().split("?", 1)[0])
        self.log.append((request.method, path))
        self.request_ids.append(request.headers.get("X-Request-Id"))
        if request.method in WRITES and "sid=" in request.headers.get("Cookie", ""):
            response = _error(403, "CSRF token invalid")
        elif self.fail_next:
            response = _error(self.fail_next.pop(0), "internal server error")
        elif path.startswith("/service/token"):
            response = self._token(request)
        elif path == "/api/v2.0/ping":
            response = httpx.Response(200, json="Pong")
        else:
            user = self._auth(request)
            response = (
                self._route(request, path.removeprefix("/api/v2.0"), user)
                if user
                else _error(401, "unauthorized")
            )
        response.headers["Set-Cookie"] = "sid=abc123; Path=/; HttpOnly"
        if "X-Request-Id" in request.headers:
            response.headers["X-Request-Id"] = request.headers["X-Request-Id"]
        return response

    def _auth(self, request: httpx.Request) -> dict[str, Any] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        name, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return next(
            (u for u in self.users.values() if u["username"] == name and u["password"] == password), None
        )

    def _token(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("Authorization", "")
        name, _, secret = base64.b64decode(header[6:]).decode().partition(":") if header else ("", "", "")
        robot = next((r for r in self.robots.values() if r["name"] == name), None)
        if robot is None or robot["secret"] != secret:
            return _error(401, "authentication required")
        return httpx.Response(200, json={"token": "t"})

    def _page(self, request: httpx.Request, items: list[Any]) -> httpx.Response:
        page = int(request.url.params.get("page", 1))
        size = min(int(request.url.params.get("page_size", 10)), self.page_size_cap)
        chunk = items[(page - 1) * size : page * size]
        headers = {"X-Total-Count": str(len(items))}
        if page * size < len(items):
            params = dict(request.url.params) | {"page": str(page + 1), "page_size": str(size)}
            query = "&".join(f"{k}={v}" for k, v in params.items())
            headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
        return httpx.Response(200, json=chunk, headers=headers)

    def _project_by(self, ref: str, request: httpx.Request) -> dict[str, Any] | None:
        if request.headers.get("X-Is-Resource-Name") == "true" or not ref.isdigit():
            return self.project(ref)
        return self.projects.get(int(ref))

    def _route(self, request: httpx.Request, path: str, caller: dict[str, Any]) -> httpx.Response:
        m, body = request.method, (json.loads(request.content) if request.content else None)
        q = request.url.params
        if path == "/projects" and m == "GET":
            name = q.get("name", "")
            return self._page(request, [p for p in self.projects.values() if name in p["name"]])
        if path == "/projects" and m == "POST":
            if self.project(body["project_name"]):
                return _error(409, "project already exists")
            if not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", body["project_name"]):
                return _error(400, "bad project name")
            pid = self.add_project(body["project_name"], caller["username"])
            quota = next(qu for qu in self.quotas.values() if qu["project_id"] == pid)
            quota["hard"]["storage"] = body.get("storage_limit", -1)
            return httpx.Response(201, headers={"Location": f"/api/v2.0/projects/{pid}"})
        if match := re.fullmatch(r"/projects/([^/]+)", path):
            project = self._project_by(match[1], request)
            if project is None:
                return _error(404, "project not found")
            if m == "GET":
                return httpx.Response(200, json=project)
            if m == "DELETE":
                if self.repositories[project["project_id"]]:
                    return _error(412, "the project contains repositories")
                pid = project["project_id"]
                del self.projects[pid]
                self.members.pop(pid)
                self.robots = {k: r for k, r in self.robots.items() if r["project_id"] != pid}
                self.quotas = {k: v for k, v in self.quotas.items() if v["project_id"] != pid}
                return httpx.Response(200)
        if path == "/quotas" and m == "GET":
            ref = int(q["reference_id"])
            return self._page(
                request,
                [
                    {"id": k, "ref": {"id": v["project_id"]}, "hard": v["hard"], "used": {}}
                    for k, v in self.quotas.items()
                    if v["project_id"] == ref
                ],
            )
        if (match := re.fullmatch(r"/quotas/(\d+)", path)) and m == "PUT":
            self.quotas[int(match[1])]["hard"] = body["hard"]
            return httpx.Response(200)
        if match := re.fullmatch(r"/projects/([^/]+)/members(?:/(\d+))?", path):
            project = self._project_by(match[1], request)
            if project is None:
                return _error(404, "project not found")
            members = self.members[project["project_id"]]
            if m == "GET":
                return self._page(
                    request, [{"id": k, "project_id": project["project_id"], **v} for k, v in members.items()]
                )
            if m == "POST":
                name = body["member_user"]["username"]
                user = next((u for u in self.users.values() if u["username"] == name), None)
                if user is None:
                    return _error(404, "user not found")
                if any(v["entity_name"] == name for v in members.values()):
                    return _error(409, "member already exists")
                mid = next(self.ids)
                members[mid] = {
                    "entity_name": name,
                    "entity_type": "u",
                    "role_id": body["role_id"],
                    "entity_id": user["user_id"],
                }
                return httpx.Response(
                    201, headers={"Location": f"/api/v2.0/projects/{project['project_id']}/members/{mid}"}
                )
            mid = int(match[2])
            if mid not in members and m == "PUT":
                return _error(404, "member not found")
            if m == "PUT":
                members[mid]["role_id"] = body["role_id"]
                return httpx.Response(200)
            if m == "DELETE":
                members.pop(mid, None)
                return httpx.Response(200)
        if path == "/users" and m == "GET":
            query = q.get("q", "")
            name = query.removeprefix("username=")
            return self._page(request, [_public(u) for u in self.users.values() if u["username"] == name])
        if path == "/users/search":
            return self._page(
                request,
                [
                    {"user_id": u["user_id"], "username": u["username"]}
                    for u in self.users.values()
                    if q["username"] in u["username"]
                ],
            )
        if path == "/users" and m == "POST":
            if any(
                u["username"] == body["username"] or u["email"] == body["email"] for u in self.users.values()
            ):
                return _error(409, "username or email already exists")
            pw = body["password"]
            if not (
                len(pw) >= 8 and re.search("[A-Z]", pw) and re.search("[a-z]", pw) and re.search("[0-9]", pw)
            ):
                return _error(400, "weak password")
            uid = self.add_user(body["username"], body["email"], body.get("comment", ""))
            self.users[uid].update(realname=body["realname"], password=pw)
            return httpx.Response(201, headers={"Location": f"/api/v2.0/users/{uid}"})
        if match := re.fullmatch(r"/users/(\d+)", path):
            user = self.users.get(int(match[1]))
            if user is None:
                return _error(404, "user not found")
            if m == "GET":
                return httpx.Response(200, json=_public(user))
            if m == "PUT":
                user.update(email=body["email"], realname=body["realname"], comment=body.get("comment", ""))
                return httpx.Response(200)
            if m == "DELETE":
                del self.users[user["user_id"]]
                return httpx.Response(200)
        if path == "/robots" and m == "GET":
            pid = int(re.search(r"ProjectID=(\d+)", q["q"])[1])  # type: ignore[index]
            return self._page(
                request, [_robot_public(k, r) for k, r in self.robots.items() if r["project_id"] == pid]
            )
        if path == "/robots" and m == "POST":
            namespace = body["permissions"][0]["namespace"]
            project = self.project(namespace)
            if project is None:
                return _error(404, "project not found")
            full = f"robot${namespace}+{body['name']}"
            if any(r["name"] == full for r in self.robots.values()):
                return _error(409, "robot already exists")
            rid = next(self.ids)
            secret = (
                body.get("secret")
                if self.honour_create_secret and body.get("secret")
                else f"Gen{rid}abcdefG1"
            )
            self.robots[rid] = {
                "name": full,
                "project_id": project["project_id"],
                "secret": secret,
                "permissions": body["permissions"],
                "disable": body.get("disable", False),
                "description": body.get("description", ""),
                "duration": body.get("duration", -1),
            }
            return httpx.Response(201, json={"id": rid, "name": full, "secret": secret})
        if match := re.fullmatch(r"/robots/(\d+)", path):
            robot = self.robots.get(int(match[1]))
            if robot is None:
                return _error(404, "robot not found")
            if m == "PUT":
                if body["name"] != robot["name"] or body["level"] != "project":
                    return _error(400, "cannot update the level or name of robot")
                robot.update(permissions=body["permissions"], disable=body["disable"])
                return httpx.Response(200)
            if m == "PATCH":
                robot["secret"] = body["secret"]
                return httpx.Response(200, json={"secret": body["secret"]})  # RobotSec, as the spec says
            if m == "DELETE":
                del self.robots[int(match[1])]
                return httpx.Response(200)
        if match := re.fullmatch(r"/projects/([^/]+)/repositories(?:/(.+))?", path):
            project = self.project(match[1])
            if project is None:
                return _error(404, "project not found")
            repos = self.repositories[project["project_id"]]
            if m == "GET" and match[2] is None:
                return self._page(request, [{"name": r} for r in repos])
            if m == "DELETE":
                full = f"{match[1]}/{unquote(match[2])}"
                if self.rules[project["project_id"]]:
                    return _error(412, "immutable tags")
                if full not in repos:
                    return _error(404, "repository not found")
                repos.remove(full)
                return httpx.Response(200)
        if match := re.fullmatch(r"/projects/([^/]+)/immutabletagrules(?:/(\d+))?", path):
            project = self._project_by(match[1], request)
            if project is None:
                return _error(404, "project not found")
            rules = self.rules[project["project_id"]]
            if m == "GET":
                return self._page(request, [{"id": r} for r in rules])
            if m == "DELETE":
                rules.remove(int(match[2]))
                return httpx.Response(200)
        return _error(404, f"no route {m} {path}")


def _public(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k != "password"}


def _robot_public(rid: int, robot: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rid,
        "name": robot["name"],
        "level": "project",
        "duration": robot["duration"],
        "disable": robot["disable"],
        "editable": True,
        "description": robot["description"],
        "permissions": robot["permissions"],
    }


@pytest.fixture
def fake_harbor() -> FakeHarbor:
    return FakeHarbor(page_size_cap=2)  # tiny pages: every list needs several


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def harbor_client(fake_harbor: FakeHarbor):
    async with HarborClient(
        "http://harbor.test",
        ADMIN,
        ADMIN_PASSWORD,
        transport=httpx.MockTransport(fake_harbor),
        sleep=_no_sleep,
    ) as client:
        yield client


@pytest.fixture
def make_reconciler(harbor_client: HarborClient, tmp_path):
    def make(clock: Any = None, **config: Any) -> Reconciler:
        config.setdefault("owner_account", ADMIN)
        extra = {"clock": clock} if clock else {}
        return Reconciler(
            harbor_client, ReconcileConfig(**config), DirectorySecretStore(tmp_path / "secrets"), **extra
        )

    return make


@pytest.fixture
def harbor_world():
    """A factory of fresh (FakeHarbor, admin name, admin password) for tests that need many."""
    return lambda: (FakeHarbor(page_size_cap=2), ADMIN, ADMIN_PASSWORD)
