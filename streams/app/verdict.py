"""Retriable or terminal: the worker's one decision about a failed reconcile.

Called by the KeyedRunner for every exception a reconcile raises. The Harbor client already
decided for its own errors (streams.harbor.errors); anything else is a bug in hopsharbor and is
treated as terminal ("internal") so that one bad key cannot stall the worker.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Verdict", "harbor_verdict"]

Verdict = tuple[Literal["retriable", "terminal"], str]


def harbor_verdict(exc: BaseException) -> Verdict:
    from streams.harbor.errors import HarborError  # imported late: the Harbor client is optional here

    if isinstance(exc, HarborError):
        return ("retriable" if exc.retriable else "terminal"), exc.reason
    return "terminal", "internal"
