"""HarborClient over httpx.MockTransport: paging, retries, error mapping, no cookie jar,
exact-name filtering, headers."""

from __future__ import annotations

import base64
import random

import httpx
import pytest

from streams.harbor import (
    ConflictError,
    HarborClient,
    NotFoundError,
    Outcome,
    PreconditionFailedError,
    RetriableError,
    TerminalError,
    request_id_scope,
)

pytestmark = pytest.mark.unit


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client_for(handler, **kwargs) -> tuple[HarborClient, list[httpx.Request], Sleeps]:
    seen: list[httpx.Request] = []
    sleeps = Sleeps()

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    kwargs.setdefault("rng", random.Random(1))
    client = HarborClient(
        "http://harbor.test/",
        "admin",
        "S3cret!",
        transport=httpx.MockTransport(record),
        sleep=sleeps,
        **kwargs,
    )
    return client, seen, sleeps


def projects(n: int, prefix: str = "p") -> list[dict]:
    return [{"project_id": i, "name": f"{prefix}{i}", "owner_name": "admin"} for i in range(n)]


async def test_every_page_by_link_header():
    items = projects(250)

    def handler(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["page_size"])
        headers = {}
        if page * size < len(items):
            headers["Link"] = f'</api/v2.0/projects?page={page + 1}&page_size={size}>; rel="next"'
        return httpx.Response(200, json=items[(page - 1) * size : page * size], headers=headers)

    client, seen, _ = client_for(handler)
    async with client:
        got = await client.list_projects()
    assert [p.project_id for p in got] == list(range(250))
    assert [r.url.params["page"] for r in seen] == ["1", "2", "3"]
    assert all(r.url.params["page_size"] == "100" for r in seen)


async def test_every_page_by_total_count_when_no_link():
    items = projects(201)

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(
            200, json=items[(page - 1) * 100 : page * 100], headers={"X-Total-Count": "201"}
        )

    client, seen, _ = client_for(handler)
    async with client:
        assert len(await client.list_projects()) == 201
    assert len(seen) == 3


async def test_exact_name_filtering_of_fuzzy_matches():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2.0/projects":
            assert request.url.params["name"] == "demo"
            return httpx.Response(
                200,
                json=[
                    {"project_id": 1, "name": "demo2"},
                    {"project_id": 2, "name": "demo"},
                    {"project_id": 3, "name": "xdemo"},
                ],
            )
        if request.url.path == "/api/v2.0/users/search":
            return httpx.Response(
                200, json=[{"user_id": 5, "username": "ann"}, {"user_id": 6, "username": "joanna"}]
            )
        if request.url.path == "/api/v2.0/users":
            assert request.url.params["q"] == "username=ann"
            return httpx.Response(
                200, json=[{"user_id": 6, "username": "Ann"}, {"user_id": 5, "username": "ann"}]
            )
        return httpx.Response(404)

    client, _, _ = client_for(handler)
    async with client:
        assert [p.project_id for p in await client.list_projects(name="demo")] == [2]
        assert [u.user_id for u in await client.search_users("ann")] == [5]
        user = await client.find_user("ann")
    assert user is not None and user.user_id == 5


async def test_project_by_name_header_and_absent():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Is-Resource-Name"] == "true"
        if request.url.path == "/api/v2.0/projects/2024":
            return httpx.Response(200, json={"project_id": 9, "name": "2024", "owner_name": "admin"})
        return httpx.Response(404, json={"errors": [{"code": "NOT_FOUND", "message": "no project"}]})

    client, _, _ = client_for(handler)
    async with client:
        project = await client.get_project("2024")  # all digits: still a name, not id 2024
        assert project is not None and project.project_id == 9
        assert await client.get_project("gone") is None


async def test_no_cookie_jar_so_writes_never_send_sid():
    def handler(request: httpx.Request) -> httpx.Response:
        if "sid=" in request.headers.get("Cookie", ""):
            return httpx.Response(
                403, json={"errors": [{"code": "FORBIDDEN", "message": "CSRF token invalid"}]}
            )
        headers = {"Set-Cookie": "sid=abcdef; Path=/; HttpOnly"}
        if request.method == "POST":
            return httpx.Response(201, headers=headers | {"Location": "/api/v2.0/projects/12"})
        return httpx.Response(200, json={"project_id": 12, "name": "demo"}, headers=headers)

    client, seen, _ = client_for(handler)
    async with client:
        await client.get_project("demo")
        assert await client.create_project("demo", 1024) == 12
        assert len(client.http.client.cookies) == 0
    assert all("Cookie" not in r.headers for r in seen)


async def test_basic_auth_request_id_and_observer():
    calls = []

    class Observer:
        def observe(self, method, route, status, seconds):
            calls.append((method, route, status))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[])

    client, seen, _ = client_for(handler, metrics=Observer())
    async with client:
        with request_id_scope("cdc.project/demo@3:41"):
            await client.list_members("demo")
            await client.list_members("other")
        await client.list_members("demo")
    assert seen[0].headers["Authorization"] == "Basic " + base64.b64encode(b"admin:S3cret!").decode()
    assert [r.headers.get("X-Request-Id") for r in seen] == [
        "cdc.project/demo@3:41.1",
        "cdc.project/demo@3:41.2",
        None,
    ]
    assert calls == [("GET", "/projects/{project}/members", 200)] * 3


async def test_retries_5xx_and_429_with_jittered_backoff():
    answers = [
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(200, json=[]),
    ]

    client, seen, sleeps = client_for(lambda request: answers.pop(0), retries=3)
    async with client:
        assert await client.list_members("demo") == []
    assert len(seen) == 3
    assert 0 <= sleeps.delays[0] <= 0.2  # full jitter of base * 2**0
    assert sleeps.delays[1] >= 2  # Retry-After is a floor


async def test_retries_are_bounded_then_retriable_error():
    client, seen, sleeps = client_for(
        lambda request: httpx.Response(
            500, json={"errors": [{"code": "UNKNOWN", "message": "internal server error"}]}
        ),
        retries=2,
    )
    async with client:
        with pytest.raises(RetriableError) as error:
            await client.list_members("demo")
    assert len(seen) == 3 and len(sleeps.delays) == 2
    assert error.value.reason == "server" and error.value.status == 500
    assert "internal server error" in error.value.message


async def test_connection_errors_are_retriable():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, seen, _ = client_for(handler, retries=1)
    async with client:
        with pytest.raises(RetriableError) as error:
            await client.list_members("demo")
        assert await client.ping() is False
    assert error.value.reason == "unreachable"


@pytest.mark.parametrize(
    ("status", "cls", "reason"),
    [
        (400, TerminalError, "bad_request"),
        (401, TerminalError, "unauthorized"),
        (403, TerminalError, "forbidden"),
        (404, NotFoundError, "not_found"),
        (409, ConflictError, "conflict"),
        (412, PreconditionFailedError, "precondition_failed"),
        (422, TerminalError, "unprocessable"),
        (418, TerminalError, "client_error"),
    ],
)
async def test_4xx_are_terminal_and_not_retried(status, cls, reason):
    client, seen, sleeps = client_for(
        lambda request: httpx.Response(status, json={"errors": [{"code": "X", "message": "nope"}]})
    )
    async with client:
        with pytest.raises(cls) as error:
            await client.update_member("demo", 3, 2)
    assert error.value.reason == reason and not error.value.retriable
    assert len(seen) == 1 and sleeps.delays == []


async def test_bad_project_name_is_terminal_bad_name():
    client, _, _ = client_for(
        lambda request: httpx.Response(
            400,
            json={
                "errors": [
                    {
                        "code": "BAD_REQUEST",
                        "message": "project name is not in lower case or contains illegal characters",
                    }
                ]
            },
        )
    )
    async with client:
        with pytest.raises(TerminalError) as error:
            await client.create_project("Bad Name")
    assert error.value.reason == "bad_name"


async def test_repository_names_are_encoded_twice():
    client, seen, _ = client_for(lambda request: httpx.Response(200))
    async with client:
        await client.delete_repository("demo", "demo/team/env")
    assert seen[0].url.raw_path == b"/api/v2.0/projects/demo/repositories/team%252Fenv"


async def test_robot_secret_check_uses_the_token_service():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/service/token"
        good = "Basic " + base64.b64encode(b"robot$demo+pull:Right1secret").decode()
        return httpx.Response(200 if request.headers["Authorization"] == good else 401)

    client, _, sleeps = client_for(handler)
    async with client:
        assert await client.check_robot_secret("robot$demo+pull", "Right1secret") is True
        assert await client.check_robot_secret("robot$demo+pull", "Wrong1secret") is False
    assert sleeps.delays == []


async def test_ensure_member_writes_only_differences():
    state = {"role": 2}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(
                200, json=[{"id": 4, "entity_name": "bob", "entity_type": "u", "role_id": state["role"]}]
            )
        state["role"] = 4
        return httpx.Response(200)

    client, seen, _ = client_for(handler)
    async with client:
        assert await client.ensure_member("demo", "bob", 2) == Outcome.UNCHANGED
        assert await client.ensure_member("demo", "bob", 4) == Outcome.UPDATED
        assert await client.ensure_member("demo", "bob", 4) == Outcome.UNCHANGED
    assert [r.method for r in seen] == ["GET", "GET", "PUT", "GET"]


def test_public_api():
    import streams.harbor

    for name in streams.harbor.__all__:
        assert hasattr(streams.harbor, name), name


async def test_total_count_paging_survives_a_server_that_caps_page_size():
    items = projects(120)

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        chunk = items[(page - 1) * 50 : page * 50]  # the server allows 50 per page, not 100
        return httpx.Response(200, json=chunk, headers={"X-Total-Count": "120"})

    client, seen, _ = client_for(handler)
    async with client:
        assert len(await client.list_projects()) == 120
    assert len(seen) == 3
