"""Where hopsharbor keeps the secrets it chooses for project robots.

Harbor shows a robot's secret only once, so hopsharbor picks each secret itself, stores it
here, and sets it with PATCH /robots/{id}. After a restart (or a change by hand in Harbor)
the reconciler reads the stored secret and sets it again: the secret survives. Called by the
reconciler only, from one reconcile per project at a time.
"""

from __future__ import annotations

import secrets
import string
from typing import Protocol, runtime_checkable

__all__ = ["SecretStore", "generate_secret"]


@runtime_checkable
class SecretStore(Protocol):
    """A key-value store of secrets. Names look like `<project>+<robot>` (Harbor's robot name
    without its `robot$` prefix). Implementations raise OSError-like errors on I/O failure."""

    def get(self, name: str) -> str | None:
        """The stored secret, or None when there is none."""
        ...

    def put(self, name: str, secret: str) -> None:
        """Store (replace) a secret durably before returning."""
        ...

    def delete(self, name: str) -> None:
        """Forget a secret (no error when absent). Called after its robot or project is deleted."""
        ...


def generate_secret(length: int = 32) -> str:
    """A random secret Harbor accepts (8-128 chars with an upper, a lower case letter and a digit)."""
    length = max(8, min(128, length))
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.isupper() for c in candidate)
            and any(c.islower() for c in candidate)
            and any(c.isdigit() for c in candidate)
        ):
            return candidate
