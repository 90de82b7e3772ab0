"""HarborClient: typed calls to the Harbor API v2.0 and the idempotent ensure_* operations.

Who calls it: the reconciler (streams/reconcile) for every key, the bench scripts, and tests.
Reads return typed records (streams.harbor.models) or None for "absent"; writes return ids.
Every failure is a streams.harbor.errors.HarborError (retriable ones already retried).
ensure_* operations read, compare and write only when Harbor differs, returning an Outcome.

Harbor quirks handled here (see DESIGN.md): fuzzy `?name=` and `/users/search` are filtered for
the exact name; project names go with `X-Is-Resource-Name: true` (an all-digit name would be an
id otherwise); repository names inside a path are encoded twice; every list is read to its end.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from streams.harbor import errors
from streams.harbor._http import HarborCallObserver, HarborHttp
from streams.harbor.models import (
    ImmutableRule,
    Member,
    Outcome,
    Project,
    Quota,
    Repository,
    Robot,
    RobotPermission,
    User,
)

__all__ = ["HarborClient", "robot_permissions", "robot_actions"]

_BY_NAME = {"X-Is-Resource-Name": "true"}


def robot_permissions(project: str, actions: Iterable[str]) -> list[dict[str, Any]]:
    """The `permissions` body of a project robot allowed `actions` on the project's repositories."""
    return [
        {
            "kind": "project",
            "namespace": project,
            "access": [{"resource": "repository", "action": a} for a in sorted(set(actions))],
        }
    ]


def robot_actions(permissions: Iterable[RobotPermission], project: str) -> frozenset[tuple[str, str, str]]:
    """A robot's grants as comparable (namespace-relative) triples (kind, resource, action)."""
    return frozenset(
        (p.kind, a.resource, a.action)
        for p in permissions
        if p.kind != "project" or p.namespace == project
        for a in p.access
        if a.effect in (None, "", "allow")
    )


def _id_from_location(response: httpx.Response) -> int | None:
    location = response.headers.get("Location", "")
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


class HarborClient:
    """Async client of one Harbor. Use `async with HarborClient(...) as harbor:` or call aclose().

    No cookie jar (Harbor's sid cookie would make writes demand a CSRF token), basic auth,
    X-Request-Id from `request_id_scope`, `timeout` seconds per request, `retries` retries with
    jittered exponential backoff for 5xx/429/connection errors only.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        metrics: HarborCallObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        max_connections: int = 20,
    ) -> None:
        self.username = username
        self.http = HarborHttp(
            base_url,
            username,
            password,
            transport=transport,
            timeout=timeout,
            retries=retries,
            metrics=metrics,
            sleep=sleep,
            rng=rng,
            event_hooks=event_hooks,
            max_connections=max_connections,
        )

    async def __aenter__(self) -> HarborClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- health ---------------------------------------------------------------------------------

    async def ping(self) -> bool:
        """True when Harbor core answers /ping (no auth needed); never raises."""
        try:
            response = await self.http.request("GET", "/ping")
        except errors.HarborError:
            return False
        return response.text.strip().strip('"') == "Pong"

    async def current_user(self) -> User:
        return User.model_validate((await self.http.request("GET", "/users/current")).json())

    # -- projects -------------------------------------------------------------------------------

    async def get_project(self, name: str) -> Project | None:
        """The project called exactly `name`, or None."""
        try:
            response = await self.http.request(
                "GET", "/projects/{project}", path_params={"project": name}, headers=_BY_NAME
            )
        except errors.NotFoundError:
            return None
        project = Project.model_validate(response.json())
        return project if project.name == name else None

    async def list_projects(self, name: str | None = None) -> list[Project]:
        """All projects; with `name`, only the one whose name is exactly that (Harbor's ?name= is fuzzy)."""
        params = {"name": name} if name else {}
        projects = [Project.model_validate(p) for p in await self.http.get_all("/projects", params=params)]
        return [p for p in projects if name is None or p.name == name]

    async def create_project(self, name: str, storage_limit: int = -1, *, public: bool = False) -> int:
        """Create a project and return its id. 409 -> ConflictError; 400 -> TerminalError "bad_name"."""
        body = {
            "project_name": name,
            "metadata": {"public": str(public).lower()},
            "storage_limit": storage_limit,
        }
        try:
            response = await self.http.request("POST", "/projects", json=body)
        except errors.TerminalError as exc:
            if exc.status == 400:
                raise errors.TerminalError(
                    "bad_name", exc.message, status=400, request_id=exc.request_id
                ) from exc
            raise
        project_id = _id_from_location(response)
        if project_id is None:
            project = await self.get_project(name)
            if project is None:
                raise errors.RetriableError("server", f"project {name!r} created but not readable yet")
            project_id = project.project_id
        return project_id

    async def delete_project(self, name: str) -> bool:
        """Delete a project; False when it was already gone. 412 while repositories remain."""
        try:
            await self.http.request(
                "DELETE", "/projects/{project}", path_params={"project": name}, headers=_BY_NAME
            )
        except errors.NotFoundError:
            return False
        return True

    # -- quotas ---------------------------------------------------------------------------------

    async def get_project_quota(self, project_id: int) -> Quota | None:
        items = await self.http.get_all(
            "/quotas", params={"reference": "project", "reference_id": project_id}
        )
        return Quota.model_validate(items[0]) if items else None

    async def update_quota(self, quota_id: int, storage: int) -> None:
        await self.http.request(
            "PUT", "/quotas/{id}", path_params={"id": quota_id}, json={"hard": {"storage": storage}}
        )

    # -- members --------------------------------------------------------------------------------

    async def list_members(self, project: str) -> list[Member]:
        items = await self.http.get_all(
            "/projects/{project}/members", path_params={"project": project}, headers=_BY_NAME
        )
        return [Member.model_validate(m) for m in items]

    async def add_member(self, project: str, username: str, role_id: int) -> int | None:
        """Add a user member; returns its member id (from Location). 409 -> ConflictError (already a
        member); 404 -> NotFoundError (no such user)."""
        response = await self.http.request(
            "POST",
            "/projects/{project}/members",
            path_params={"project": project},
            headers=_BY_NAME,
            json={"role_id": role_id, "member_user": {"username": username}},
        )
        return _id_from_location(response)

    async def update_member(self, project: str, member_id: int, role_id: int) -> None:
        await self.http.request(
            "PUT",
            "/projects/{project}/members/{mid}",
            headers=_BY_NAME,
            path_params={"project": project, "mid": member_id},
            json={"role_id": role_id},
        )

    async def delete_member(self, project: str, member_id: int) -> None:
        await self.http.request(
            "DELETE",
            "/projects/{project}/members/{mid}",
            headers=_BY_NAME,
            path_params={"project": project, "mid": member_id},
            ok=frozenset({404}),
        )

    # -- users ----------------------------------------------------------------------------------

    async def find_user(self, username: str) -> User | None:
        """The user called exactly `username` (with email etc.), or None. Needs a sysadmin caller."""
        items = await self.http.get_all("/users", params={"q": f"username={username}"})
        for item in items:
            user = User.model_validate(item)
            if user.username == username:
                return user
        return None

    async def search_users(self, username: str) -> list[User]:
        """/users/search (any caller) matches fuzzily: keep the exact name only (id and name only)."""
        items = await self.http.get_all("/users/search", params={"username": username})
        return [User.model_validate(u) for u in items if u.get("username") == username]

    async def get_user(self, user_id: int) -> User | None:
        try:
            response = await self.http.request("GET", "/users/{id}", path_params={"id": user_id})
        except errors.NotFoundError:
            return None
        return User.model_validate(response.json())

    async def create_user(
        self, username: str, email: str, realname: str, password: str, comment: str = ""
    ) -> int | None:
        """Create a database user; returns its id when Harbor says it. 409 -> ConflictError (exists)."""
        response = await self.http.request(
            "POST",
            "/users",
            json={
                "username": username,
                "email": email,
                "realname": realname,
                "password": password,
                "comment": comment,
            },
        )
        return _id_from_location(response)

    async def update_user_profile(self, user_id: int, email: str, realname: str, comment: str = "") -> None:
        await self.http.request(
            "PUT",
            "/users/{id}",
            path_params={"id": user_id},
            json={"email": email, "realname": realname, "comment": comment},
        )

    async def delete_user(self, user_id: int) -> bool:
        try:
            await self.http.request("DELETE", "/users/{id}", path_params={"id": user_id})
        except errors.NotFoundError:
            return False
        return True

    # -- robots ---------------------------------------------------------------------------------

    async def list_project_robots(self, project_id: int) -> list[Robot]:
        items = await self.http.get_all("/robots", params={"q": f"Level=project,ProjectID={project_id}"})
        return [Robot.model_validate(r) for r in items]

    async def create_robot(
        self,
        project: str,
        name: str,
        actions: Iterable[str],
        *,
        secret: str | None = None,
        description: str = "",
    ) -> tuple[int, str, str | None]:
        """Create a never-expiring project robot; returns (id, full name, secret Harbor reports)."""
        body: dict[str, Any] = {
            "name": name,
            "description": description,
            "level": "project",
            "duration": -1,
            "disable": False,
            "permissions": robot_permissions(project, actions),
        }
        if secret is not None:
            body["secret"] = secret
        created = (await self.http.request("POST", "/robots", json=body)).json()
        return int(created["id"]), str(created["name"]), created.get("secret")

    async def update_robot(self, robot: Robot, project: str, actions: Iterable[str]) -> None:
        """PUT the robot with new permissions, enabled; its id, name and secret stay."""
        await self.http.request(
            "PUT",
            "/robots/{id}",
            path_params={"id": robot.id},
            json={
                "id": robot.id,
                "name": robot.name,
                "description": robot.description or "",
                "level": "project",
                "duration": robot.duration if robot.duration is not None else -1,
                "disable": False,
                "editable": True,
                "permissions": robot_permissions(project, actions),
            },
        )

    async def set_robot_secret(self, robot_id: int, secret: str) -> None:
        await self.http.request(
            "PATCH", "/robots/{id}", path_params={"id": robot_id}, json={"secret": secret}
        )

    async def delete_robot(self, robot_id: int) -> None:
        await self.http.request("DELETE", "/robots/{id}", path_params={"id": robot_id}, ok=frozenset({404}))

    async def check_robot_secret(self, full_name: str, secret: str) -> bool:
        """Does Harbor accept (full_name, secret)? Asks the token service as `docker login` does.

        Harbor never returns a robot's secret, so this is the only way to notice that someone
        changed it by hand. 200 -> True, 401 -> False.
        """
        response = await self.http.request(
            "GET",
            "/service/token",
            api=False,
            params={"service": "harbor-registry", "account": full_name},
            auth=httpx.BasicAuth(full_name, secret),
            ok=frozenset({401}),
        )
        return response.status_code == 200

    # -- repositories and tag rules (project deletion) ------------------------------------------

    async def list_repositories(self, project: str) -> list[Repository]:
        items = await self.http.get_all("/projects/{project}/repositories", path_params={"project": project})
        return [Repository.model_validate(r) for r in items]

    async def delete_repository(self, project: str, repository: str) -> None:
        """`repository` as listed ("<project>/a/b"); its path inside the project is encoded twice."""
        inner = repository.removeprefix(f"{project}/")
        await self.http.request(
            "DELETE",
            "/projects/{project}/repositories/{repo}",
            ok=frozenset({404}),
            path_params={"project": project, "repo": quote(inner, safe="")},
        )

    async def list_immutable_rules(self, project: str) -> list[ImmutableRule]:
        items = await self.http.get_all(
            "/projects/{project}/immutabletagrules", path_params={"project": project}, headers=_BY_NAME
        )
        return [ImmutableRule.model_validate(r) for r in items]

    async def delete_immutable_rule(self, project: str, rule_id: int) -> None:
        await self.http.request(
            "DELETE",
            "/projects/{project}/immutabletagrules/{id}",
            headers=_BY_NAME,
            path_params={"project": project, "id": rule_id},
            ok=frozenset({404}),
        )

    # -- ensure_*: read, compare, write only what differs ---------------------------------------

    async def ensure_user(
        self, username: str, email: str, realname: str, *, password: str, comment: str = ""
    ) -> Outcome:
        """The database user exists with this email and realname (password only used on create)."""
        user = await self.find_user(username)
        if user is None:
            try:
                await self.create_user(username, email, realname or username, password, comment)
                return Outcome.CREATED
            except errors.ConflictError:
                user = await self.find_user(username)
                if user is None:
                    raise
        if (user.email or "") == email and (user.realname or "") == (realname or username):
            return Outcome.UNCHANGED
        await self.update_user_profile(user.user_id, email, realname or username, user.comment or comment)
        return Outcome.UPDATED

    async def ensure_member(self, project: str, username: str, role_id: int) -> Outcome:
        """`username` is a member of `project` with `role_id`."""
        for member in await self.list_members(project):
            if member.entity_type == "u" and member.entity_name == username:
                if member.role_id == role_id:
                    return Outcome.UNCHANGED
                await self.update_member(project, member.id, role_id)
                return Outcome.UPDATED
        await self.add_member(project, username, role_id)
        return Outcome.CREATED

    async def ensure_member_absent(self, project: str, username: str) -> Outcome:
        for member in await self.list_members(project):
            if member.entity_type == "u" and member.entity_name == username:
                await self.delete_member(project, member.id)
                return Outcome.DELETED
        return Outcome.UNCHANGED

    async def ensure_quota(self, project_id: int, storage: int) -> Outcome:
        quota = await self.get_project_quota(project_id)
        if quota is None:
            raise errors.NotFoundError("not_found", f"project {project_id} has no quota")
        if quota.storage == storage:
            return Outcome.UNCHANGED
        await self.update_quota(quota.id, storage)
        return Outcome.UPDATED

    async def ensure_robot(
        self,
        project: str,
        project_id: int,
        name: str,
        actions: Iterable[str],
        secret: str,
        *,
        prefix: str = "robot$",
    ) -> Outcome:
        """Robot `name` exists with exactly `actions` and `secret` (checked via the token service)."""
        wanted = frozenset(("project", "repository", a) for a in actions)
        full = f"{prefix}{project}+{name}"
        robot = next((r for r in await self.list_project_robots(project_id) if r.name == full), None)
        if robot is None:
            robot_id, _, reported = await self.create_robot(project, name, actions, secret=secret)
            if reported != secret:
                await self.set_robot_secret(robot_id, secret)
            return Outcome.CREATED
        outcome = Outcome.UNCHANGED
        if robot.disable or robot_actions(robot.permissions, project) != wanted:
            await self.update_robot(robot, project, actions)
            outcome = Outcome.UPDATED
        if not await self.check_robot_secret(robot.name, secret):
            await self.set_robot_secret(robot.id, secret)
            outcome = Outcome.UPDATED
        return outcome

    async def ensure_project_absent(self, name: str) -> Outcome:
        """Immutable tag rules, then every repository, then the project. Caller checks ownership."""
        project = await self.get_project(name)
        if project is None:
            return Outcome.UNCHANGED
        for rule in await self.list_immutable_rules(name):
            await self.delete_immutable_rule(name, rule.id)
        for repository in await self.list_repositories(name):
            await self.delete_repository(name, repository.name)
        return Outcome.DELETED if await self.delete_project(name) else Outcome.UNCHANGED
