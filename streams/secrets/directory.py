"""DirectorySecretStore: one file per secret in a directory (mode 0700, files 0600).

The default SecretStore. File names are the secret names percent-encoded, so any name is a
single safe file name. Writes go to a temporary file that is fsynced and renamed over the old
one: a crash leaves either the old or the new secret, never half of one.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

__all__ = ["DirectorySecretStore"]


class DirectorySecretStore:
    """Secrets as files under `path` (created on first use)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _file(self, name: str) -> Path:
        if not name:
            raise ValueError("empty secret name")
        return self.path / quote(name, safe="")

    def get(self, name: str) -> str | None:
        try:
            return self._file(name).read_text().strip() or None
        except FileNotFoundError:
            return None

    def put(self, name: str, secret: str) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self._file(name)
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, secret.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)

    def delete(self, name: str) -> None:
        try:
            self._file(name).unlink()
        except FileNotFoundError:
            pass
