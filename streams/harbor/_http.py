"""The HTTP layer of the Harbor client: auth, request ids, retries, paging, error mapping.

Everything that touches httpx lives here, so the resource methods in client.py only name a
route and read typed records. Called by HarborClient for every request; a failure is raised
as a streams.harbor.errors.HarborError after the retries for retriable errors are spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol, cast
from urllib.parse import quote

import httpx

from streams.harbor import errors

__all__ = ["HarborCallObserver", "HarborHttp", "request_id_scope", "API_PREFIX", "PAGE_SIZE"]

API_PREFIX = "/api/v2.0"
PAGE_SIZE = 100  # Harbor's maximum page size
MAX_PAGES = 10_000  # a guard against a server that keeps saying "next"
BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0


class HarborCallObserver(Protocol):
    """Told about every HTTP exchange (each retry too). streams/metrics.py implements it.

    `route` is the path template ("/projects/{project}/members"), never the raw path, so the
    label set stays bounded; `status` is the HTTP status or "error" when no response came.
    """

    def observe(self, method: str, route: str, status: int | str, seconds: float) -> None: ...


class _NoCookies(DefaultCookiePolicy):
    """Refuse every cookie. Harbor answers with a `sid` session cookie; sent back, it makes
    Harbor treat the next write as a browser session and demand a CSRF token (403)."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


_SAFE_ID = re.compile(r"[^A-Za-z0-9._:/+@-]")
_request_scope: ContextVar[tuple[str, Iterator[int]] | None] = ContextVar(
    "harbor_request_scope", default=None
)


@contextlib.contextmanager
def request_id_scope(base: str) -> Iterator[None]:
    """Within this block (this asyncio task only) every request carries X-Request-Id `<base>.<n>`.

    The reconciler opens one per reconcile with a base derived from the event or the key, so
    Harbor's logs can be joined with ours. Retries of one request keep its id.
    """
    token = _request_scope.set((_SAFE_ID.sub("_", base)[:120], itertools.count(1)))
    try:
        yield
    finally:
        _request_scope.reset(token)


def _next_request_id() -> str | None:
    scope = _request_scope.get()
    if scope is None:
        return None
    base, counter = scope
    return f"{base}.{next(counter)}"


def format_route(route: str, path_params: Mapping[str, object]) -> str:
    """Fill a route template; every value is percent-encoded (a `/` too)."""
    return route.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})


class HarborHttp:
    """One httpx.AsyncClient with Harbor's rules applied. Owned and closed by HarborClient."""

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
        root = base_url.rstrip("/")
        if root.endswith(API_PREFIX):
            root = root[: -len(API_PREFIX)]
        self.retries = retries
        self._metrics = metrics
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.AsyncClient(
            base_url=root,
            auth=httpx.BasicAuth(username, password),
            cookies=CookieJar(policy=_NoCookies()),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json"},
            event_hooks=dict(event_hooks or {}),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    @property
    def client(self) -> httpx.AsyncClient:
        return self._client

    async def aclose(self) -> None:
        await self._client.aclose()

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt)); Retry-After (429) is a floor."""
        delay = self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, BACKOFF_CAP * 4))
        return delay

    async def request(
        self,
        method: str,
        route: str,
        *,
        path_params: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
        auth: httpx.Auth | None = None,
        ok: frozenset[int] = frozenset(),
        api: bool = True,
    ) -> httpx.Response:
        """Send one request, retrying retriable failures; return the 2xx (or `ok`) response.

        `url` overrides the formatted route (used to follow a Link rel=next). Raises
        RetriableError once `retries` retries are spent, TerminalError at once.
        """
        path = url or ((API_PREFIX if api else "") + format_route(route, path_params or {}))
        send_headers = dict(headers or {})
        request_id = _next_request_id()
        if request_id:
            send_headers["X-Request-Id"] = request_id
        attempt = 0
        while True:
            started = time.perf_counter()
            retry_after: float | None = None
            try:
                response = await self._client.request(
                    method,
                    path,
                    params=cast(Any, params) if params and not url else None,
                    json=json,
                    headers=send_headers,
                    auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.HTTPError as exc:
                self._observe(method, route, "error", started)
                error: errors.HarborError = errors.from_transport_error(exc, route=f"{method} {route}")
            else:
                self._observe(method, route, response.status_code, started)
                if response.is_success or response.status_code in ok:
                    return response
                error = errors.from_response(response, route=route)
                retry_after = _retry_after(response)
            if not error.retriable or attempt >= self.retries:
                raise error
            await self._sleep(self.backoff(attempt, retry_after))
            attempt += 1

    async def get_all(
        self,
        route: str,
        *,
        path_params: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> list[Any]:
        """Every item of a paged list: page_size=100, follow Link rel="next", else X-Total-Count."""
        query: dict[str, object] = {**(params or {}), "page": 1, "page_size": PAGE_SIZE}
        items: list[Any] = []
        next_url: str | None = None
        for page in range(1, MAX_PAGES + 1):
            query["page"] = page
            response = await self.request(
                "GET",
                route,
                path_params=path_params,
                params=query,
                headers=headers,
                url=next_url,
            )
            batch = response.json() or []
            if not isinstance(batch, list):
                raise errors.TerminalError(
                    "bad_response", f"GET {route}: expected a list, got {type(batch).__name__}"
                )
            items.extend(batch)
            link = response.links.get("next")
            if link and link.get("url"):
                next_url = link["url"]
                continue
            next_url = None
            total = response.headers.get("X-Total-Count")
            if total is not None and total.isdigit():
                if len(batch) == 0 or len(items) >= int(total):  # the server may cap page_size
                    return items
                continue
            return items  # neither Link nor X-Total-Count: a single page
        raise errors.TerminalError("bad_response", f"GET {route}: more than {MAX_PAGES} pages")

    def _observe(self, method: str, route: str, status: int | str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.observe(method, route, status, time.perf_counter() - started)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
