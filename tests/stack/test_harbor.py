"""Harbor of the local stack (deploy/local/services/harbor.sh), through plain httpx.

Core on 127.0.0.1:HARBOR_PORT is Harbor built from source; its registry on
127.0.0.1:HARBOR_REGISTRY_PORT is Debian's CNCF distribution with htpasswd auth, as Harbor runs it.
Images are pushed and pulled with the registry HTTP API directly (token from core's
/service/token, blob upload, manifest PUT): no docker engine needed.

Every client here has a cookie jar that keeps nothing: with Harbor's `sid` cookie, writes would
need a CSRF token (403). Names are unique per test; each test deletes what it made.

When Harbor core cannot be built on this machine, `harbor.sh start` leaves the reason in
.stack/run/harbor.blocked and the tests that need core are skipped with it; the registry test
still runs.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urljoin

import httpx
import pytest

from tests.conftest import Stack

pytestmark = pytest.mark.integration

REGISTRY_USER = "harbor_registry_user"  # the htpasswd user core and its registry share
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ROLES = {1: "projectAdmin", 2: "developer", 3: "guest", 4: "maintainer", 5: "limitedGuest"}


def _client(base_url: str, auth: tuple[str, str] | None = None) -> httpx.Client:
    """An httpx client whose cookie jar refuses every cookie (no `sid`, so no CSRF check)."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(
        base_url=base_url,
        auth=auth,
        cookies=jar,
        timeout=30,
        headers={"X-Request-Id": f"hopsharbor-test-{uuid.uuid4().hex[:8]}"},
    )


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# --- registry HTTP API v2 -------------------------------------------------------------------------


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…"` -> ("bearer", {realm, service, …})."""
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        if key:
            params[key.lower()] = value.strip('"')
    return scheme.lower(), params


@dataclass
class Registry:
    """Docker registry API v2 client answering whichever challenge /v2/ gives: Basic (Harbor's
    own registry) or Bearer (core: a token from /service/token, one per scope)."""

    base_url: str
    username: str
    password: str
    http: httpx.Client = field(init=False)
    _auth: dict[str, str] = field(default_factory=dict, init=False)  # scope -> Authorization

    def __post_init__(self) -> None:
        self.http = _client(self.base_url)

    def close(self) -> None:
        self.http.close()

    def _authorize(self, challenge: str, scope: str) -> None:
        scheme, params = _challenge(challenge)
        if scheme == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            self._auth[scope] = f"Basic {token}"
            return
        assert scheme == "bearer", challenge
        # The realm as given (a base_url would gain a trailing slash): core's /service/token.
        with _client("", auth=(self.username, self.password)) as tokens:
            r = tokens.get(params["realm"], params={"service": params.get("service", ""), "scope": scope})
        r.raise_for_status()
        body = r.json()
        self._auth[scope] = f"Bearer {body.get('token') or body['access_token']}"

    def request(self, method: str, url: str, scope: str, **kwargs: object) -> httpx.Response:
        """One request; on a 401 get credentials for `scope` as challenged and try once more."""
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if scope in self._auth:
            headers["Authorization"] = self._auth[scope]
        r = self.http.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        if r.status_code == 401 and "www-authenticate" in r.headers:
            self._authorize(r.headers["www-authenticate"], scope)
            headers["Authorization"] = self._auth[scope]
            r = self.http.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        return r

    def upload_blob(self, repo: str, data: bytes) -> httpx.Response:
        """Monolithic upload: POST …/blobs/uploads/ then PUT <Location>&digest=…; the last response."""
        scope = f"repository:{repo}:pull,push"
        r = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope)
        if r.status_code != 202:
            return r
        location = urljoin(self.base_url + "/", r.headers["location"])
        # Appended by hand: httpx's params= would drop the upload's _state query (DESIGN.md).
        sep = "&" if "?" in location else "?"
        return self.request(
            "PUT",
            f"{location}{sep}digest={_digest(data)}",
            scope,
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Image:
    layer: bytes
    config: bytes
    manifest: bytes

    @property
    def digest(self) -> str:
        return _digest(self.manifest)


def _make_image(text: str) -> Image:
    """A one-layer OCI image holding /hello.txt, built in memory."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        payload = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(payload), 0, 0o644
        tar.addfile(info, io.BytesIO(payload))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [_digest(raw.getvalue())]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": _digest(layer), "size": len(layer)}],
        }
    ).encode()
    return Image(layer=layer, config=config, manifest=manifest)


def _push(reg: Registry, repo: str, tag: str, image: Image) -> httpx.Response:
    """Layer, config, then the manifest under `tag`; the first failing response, else the manifest PUT's."""
    for blob in (image.layer, image.config):
        r = reg.upload_blob(repo, blob)
        if r.status_code != 201:
            return r
    return reg.request(
        "PUT",
        f"/v2/{repo}/manifests/{tag}",
        f"repository:{repo}:pull,push",
        content=image.manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )


def _assert_pulls(reg: Registry, repo: str, tag: str, image: Image) -> None:
    scope = f"repository:{repo}:pull"
    r = reg.request("GET", f"/v2/{repo}/manifests/{tag}", scope, headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200, r.text
    assert r.headers["docker-content-digest"] == image.digest
    assert r.content == image.manifest
    r = reg.request("GET", f"/v2/{repo}/blobs/{_digest(image.layer)}", scope)
    assert r.status_code == 200, r.text
    assert r.content == image.layer


# --- Harbor's registry (runs whether or not core could be built) ----------------------------------


def test_harbor_registry_wants_core_credentials_and_deletes(stack: Stack) -> None:
    stack.require("harbor_registry")
    base = f"http://127.0.0.1:{stack.port('harbor_registry')}"
    with _client(base) as anonymous:
        r = anonymous.get("/v2/")
    assert r.status_code == 401
    assert _challenge(r.headers["www-authenticate"]) == ("basic", {"realm": "harbor-registry-basic-realm"})

    wrong = Registry(base, REGISTRY_USER, "not-the-password")
    assert wrong.request("GET", "/v2/", "registry:catalog:*").status_code == 401
    wrong.close()

    reg = Registry(base, REGISTRY_USER, stack.secret("harbor-registry-password"))
    repo, image = f"hopsharbor-test/{_unique('r')}", _make_image(_unique("registry "))
    try:
        r = _push(reg, repo, "v1", image)
        assert r.status_code == 201, r.text
        assert r.headers["docker-content-digest"] == image.digest
        _assert_pulls(reg, repo, "v1", image)
        # Harbor deletes artifacts in its registry by manifest digest: deletes must be enabled.
        scope = f"repository:{repo}:*"
        assert reg.request("DELETE", f"/v2/{repo}/manifests/{image.digest}", scope).status_code == 202
        assert reg.request("GET", f"/v2/{repo}/manifests/v1", scope).status_code == 404
    finally:
        reg.close()


# --- Harbor core ----------------------------------------------------------------------------------


@dataclass
class Harbor:
    url: str
    api: httpx.Client  # admin, basic auth, /api/v2.0

    def registry(self, username: str, password: str) -> Registry:
        return Registry(self.url, username, password)

    def create_project(self, name: str) -> httpx.Response:
        return self.api.post("/projects", json={"project_name": name, "metadata": {"public": "false"}})

    def delete_project(self, name: str) -> None:
        """Repositories first (a project with repositories answers 412), then the project."""
        by_name = {"X-Is-Resource-Name": "true"}
        r = self.api.get(f"/projects/{name}/repositories", params={"page_size": 100}, headers=by_name)
        for repo in r.json() if r.status_code == 200 else []:
            self.api.delete(f"/projects/{name}/repositories/{_repo_part(repo['name'])}", headers=by_name)
        self.api.delete(f"/projects/{name}", headers=by_name)

    def create_robot(self, project: str, name: str) -> dict[str, object]:
        r = self.api.post(
            "/robots",
            json={
                "name": name,
                "level": "project",
                "duration": -1,
                "description": "hopsharbor test",
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": project,
                        "access": [
                            {"resource": "repository", "action": "pull"},
                            {"resource": "repository", "action": "push"},
                        ],
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        robot = r.json()
        assert robot["name"] == f"robot${project}+{name}"
        assert robot["secret"]
        return robot


def _repo_part(full_name: str) -> str:
    """`project/a/b` -> the repository name inside the project, slashes double-encoded as Harbor wants."""
    return full_name.split("/", 1)[1].replace("/", "%252F")


@pytest.fixture(scope="module")
def harbor(stack: Stack) -> Iterator[Harbor]:
    if not stack.is_up("harbor"):
        blocked = stack.dir / "run" / "harbor.blocked"
        if blocked.exists():
            pytest.skip(f"Harbor core is not running: {blocked.read_text().splitlines()[0]}")
        stack.require("harbor")
    url = f"http://127.0.0.1:{stack.port('harbor')}"
    with _client(f"{url}/api/v2.0", auth=("admin", stack.secret("harbor-admin"))) as api:
        yield Harbor(url=url, api=api)


@pytest.fixture
def projects(harbor: Harbor) -> Iterator[list[str]]:
    """Names of projects a test created; all deleted afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        harbor.delete_project(name)


def _new_project(harbor: Harbor, projects: list[str]) -> str:
    name = _unique("hopsharbor-test-")
    r = harbor.create_project(name)
    assert r.status_code == 201, r.text
    projects.append(name)
    return name


def test_core_answers_ping_and_its_database_and_redis_are_healthy(harbor: Harbor) -> None:
    with _client(harbor.url) as anonymous:
        assert anonymous.get("/api/v2.0/ping").text == "Pong"
        health = anonymous.get("/api/v2.0/health").json()
    status = {c["name"]: c["status"] for c in health["components"]}
    assert {k: status.get(k) for k in ("core", "database", "redis", "registry")} == dict.fromkeys(
        ("core", "database", "redis", "registry"), "healthy"
    ), health


def test_project_create_then_conflict(harbor: Harbor, projects: list[str]) -> None:
    name = _new_project(harbor, projects)
    r = harbor.create_project(name)
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["code"] == "CONFLICT"
    assert harbor.api.head("/projects", params={"project_name": name}).status_code == 200
    assert harbor.create_project("Not A Valid Name").status_code == 400


def test_user_is_added_with_each_role(harbor: Harbor, projects: list[str]) -> None:
    project = _new_project(harbor, projects)
    username = _unique("hhuser")
    r = harbor.api.post(
        "/users",
        json={
            "username": username,
            "email": f"{username}@example.com",
            "realname": username,
            "password": "Passw0rd" + uuid.uuid4().hex[:8],
            "comment": "hopsharbor test",
        },
    )
    assert r.status_code == 201, r.text
    assert (
        harbor.api.post(
            "/users",
            json={
                "username": username,
                "email": f"other-{username}@example.com",
                "realname": username,
                "password": "Passw0rdX1",
                "comment": "",
            },
        ).status_code
        == 409
    )
    user_id = int(r.headers["location"].rstrip("/").rsplit("/", 1)[1])
    by_name = {"X-Is-Resource-Name": "true"}
    try:
        for role_id, role_name in ROLES.items():
            r = harbor.api.post(
                f"/projects/{project}/members",
                headers=by_name,
                json={"role_id": role_id, "member_user": {"username": username}},
            )
            assert r.status_code == 201, (role_id, r.text)
            members = harbor.api.get(
                f"/projects/{project}/members", headers=by_name, params={"entityname": username}
            ).json()
            [member] = [m for m in members if m["entity_name"] == username]
            assert (member["role_id"], member["role_name"].lower()) == (role_id, role_name.lower())
            dup = harbor.api.post(
                f"/projects/{project}/members",
                headers=by_name,
                json={"role_id": role_id, "member_user": {"username": username}},
            )
            assert dup.status_code == 409, dup.text
            assert (
                harbor.api.delete(f"/projects/{project}/members/{member['id']}", headers=by_name).status_code
                == 200
            )
        unknown = harbor.api.post(
            f"/projects/{project}/members",
            headers=by_name,
            json={"role_id": 2, "member_user": {"username": _unique("nobody")}},
        )
        assert unknown.status_code == 404, unknown.text
    finally:
        harbor.api.delete(f"/users/{user_id}")


def test_robot_pushes_and_pulls_then_repository_and_project_are_deleted(
    harbor: Harbor,
    projects: list[str],
) -> None:
    project = _new_project(harbor, projects)
    by_name = {"X-Is-Resource-Name": "true"}
    robot = harbor.create_robot(project, "pusher")
    reg = harbor.registry(str(robot["name"]), str(robot["secret"]))
    repo, image = f"{project}/app", _make_image(_unique("harbor "))
    try:
        r = _push(reg, repo, "v1", image)
        assert r.status_code == 201, r.text
        assert r.headers["docker-content-digest"] == image.digest
        _assert_pulls(reg, repo, "v1", image)
    finally:
        reg.close()

    r = harbor.api.get(f"/projects/{project}/repositories/app/artifacts", headers=by_name)
    assert r.status_code == 200, r.text
    [artifact] = r.json()
    assert artifact["digest"] == image.digest
    assert [t["name"] for t in artifact["tags"]] == ["v1"]

    # A project with a repository cannot go; its repository first.
    assert harbor.api.delete(f"/projects/{project}", headers=by_name).status_code == 412
    assert harbor.api.delete(f"/projects/{project}/repositories/app", headers=by_name).status_code == 200
    assert harbor.api.get(f"/projects/{project}/repositories/app", headers=by_name).status_code == 404
    assert harbor.api.delete(f"/projects/{project}", headers=by_name).status_code == 200
    assert harbor.api.head("/projects", params={"project_name": project}).status_code == 404


def test_robot_of_another_project_is_refused(harbor: Harbor, projects: list[str]) -> None:
    mine, other = _new_project(harbor, projects), _new_project(harbor, projects)
    owner = harbor.create_robot(mine, "owner")
    stranger = harbor.create_robot(other, "stranger")
    repo, image = f"{mine}/app", _make_image(_unique("private "))

    reg = harbor.registry(str(owner["name"]), str(owner["secret"]))
    try:
        assert _push(reg, repo, "v1", image).status_code == 201
    finally:
        reg.close()

    reg = harbor.registry(str(stranger["name"]), str(stranger["secret"]))
    try:
        pull = reg.request(
            "GET", f"/v2/{repo}/manifests/v1", f"repository:{repo}:pull", headers={"Accept": OCI_MANIFEST}
        )
        assert pull.status_code in (401, 403), pull.text
        assert image.manifest not in pull.content
        push = reg.upload_blob(repo, _make_image(_unique("intruder ")).layer)
        assert push.status_code in (401, 403), push.text
        # …while its own project takes the same image.
        assert _push(reg, f"{other}/app", "v1", image).status_code == 201
    finally:
        reg.close()
