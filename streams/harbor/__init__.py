"""Harbor API v2.0 client: async httpx, typed records, one exception tree, idempotent ensure_*.

Public surface: HarborClient, HarborCallObserver, request_id_scope, Outcome, the records in
streams.harbor.models and the errors in streams.harbor.errors.
"""

from streams.harbor._http import HarborCallObserver, request_id_scope
from streams.harbor.client import HarborClient
from streams.harbor.errors import (
    ConflictError,
    HarborError,
    NotFoundError,
    PreconditionFailedError,
    RetriableError,
    TerminalError,
)
from streams.harbor.models import Outcome

__all__ = [
    "HarborClient",
    "HarborCallObserver",
    "request_id_scope",
    "Outcome",
    "HarborError",
    "RetriableError",
    "TerminalError",
    "NotFoundError",
    "ConflictError",
    "PreconditionFailedError",
]
