"""Errors of the Harbor client; the one place that decides retriable vs terminal.

    HarborError                      root: anything the Harbor client raises
    ├── RetriableError               back off and try again (the same request may then succeed)
    │     reasons: "server" (5xx), "throttled" (429), "unreachable" (connection), "timeout"
    └── TerminalError                retrying the same thing gives the same answer
          ├── NotFoundError          404                            reason "not_found"
          ├── ConflictError          409                            reason "conflict"
          └── PreconditionFailedError 412                           reason "precondition_failed"
          other reasons: "bad_request" (400), "bad_name" (400 on a name), "unauthorized" (401),
          "forbidden" (403), "unprocessable" (422), "client_error" (other 4xx),
          "foreign_project" (a project in the way that hopsharbor does not own), "bad_response"

`reason` is a short word from a bounded set (safe as a metric label); `message` is for humans
and carries Harbor's own message when it sent one. httpx errors are translated here
(`from_transport_error`) and nowhere else; `from_response` maps an HTTP status.
"""

from __future__ import annotations

import httpx

__all__ = [
    "HarborError",
    "RetriableError",
    "TerminalError",
    "NotFoundError",
    "ConflictError",
    "PreconditionFailedError",
    "from_response",
    "from_transport_error",
]


class HarborError(Exception):
    """Root of every error raised by streams.harbor (and by the reconciler on its behalf)."""

    retriable: bool = False

    def __init__(
        self, reason: str, message: str, *, status: int | None = None, request_id: str | None = None
    ):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.status = status
        self.request_id = request_id


class RetriableError(HarborError):
    """Harbor is down, overloaded or failed inside: the caller backs off (per key) and retries."""

    retriable = True


class TerminalError(HarborError):
    """Harbor refused the request for a reason that retrying cannot fix: dead-letter it."""


class NotFoundError(TerminalError):
    pass


class ConflictError(TerminalError):
    pass


class PreconditionFailedError(TerminalError):
    pass


_STATUS: dict[int, tuple[type[HarborError], str]] = {
    400: (TerminalError, "bad_request"),
    401: (TerminalError, "unauthorized"),
    403: (TerminalError, "forbidden"),
    404: (NotFoundError, "not_found"),
    409: (ConflictError, "conflict"),
    412: (PreconditionFailedError, "precondition_failed"),
    422: (TerminalError, "unprocessable"),
    429: (RetriableError, "throttled"),
}


def _harbor_message(response: httpx.Response) -> str:
    """Harbor's `{"errors":[{"code","message"}]}` as one line; the raw body (cut short) otherwise."""
    try:
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
    except ValueError:
        pass
    text = response.text.strip()
    return text[:300] if text else response.reason_phrase


def from_response(response: httpx.Response, *, route: str = "") -> HarborError:
    """The error for a non-2xx response (5xx -> RetriableError "server")."""
    status = response.status_code
    if status in _STATUS:
        cls, reason = _STATUS[status]
    elif status >= 500:
        cls, reason = RetriableError, "server"
    else:
        cls, reason = TerminalError, "client_error"
    method = response.request.method if response.request is not None else ""
    message = f"{method} {route or response.request.url.path} -> {status}: {_harbor_message(response)}"
    return cls(reason, message, status=status, request_id=response.headers.get("X-Request-Id"))


def from_transport_error(exc: httpx.HTTPError, *, route: str = "") -> HarborError:
    """Translate an httpx transport failure (no response) into a RetriableError."""
    reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"
    return RetriableError(reason, f"{route}: {type(exc).__name__}: {exc}")
