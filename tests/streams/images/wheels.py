"""Tiny pure-Python wheels made on the spot, so that image builds need no package index.

A wheel is a zip with the package, METADATA, WHEEL and RECORD (with sha256 hashes, as pip
expects); writing it directly needs no build backend (the venv has setuptools but not `wheel`).
Used by the image integration tests and bench/images_push.py.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

__all__ = ["make_wheel"]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(directory: Path, name: str, version: str, *, payload_bytes: int = 0) -> Path:
    """Write `<name>-<version>-py3-none-any.whl` into `directory`: a module `<name>` whose VALUE
    is `"<name>-<version>"`, plus `payload_bytes` of incompressible data (to size a layer)."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{name}/__init__.py": f'VALUE = "{name}-{version}"\n'.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hopsharbor-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    if payload_bytes:
        files[f"{name}/payload.bin"] = hashlib.shake_256(f"{name}{version}".encode()).digest(payload_bytes)
    record = "\n".join(_record_line(path, data) for path, data in files.items()) + f"\n{dist}/RECORD,,\n"
    files[f"{dist}/RECORD"] = record.encode()
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path
