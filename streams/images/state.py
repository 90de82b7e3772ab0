"""The image each project is at: what the next build goes FROM, and the digest pushed.

Written by the build service after every build (or after finding the tag in the registry),
read before the next one. `MemoryImageStore` is the store of one process (tests, the CLI);
the worker wraps it with the Faust table of image records (agent.py), so that a restarted
worker builds FROM the right image. `ImageRecord.reference` is what goes into the desired state
(`ProjectState.image`).
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

__all__ = ["ImageRecord", "ImageStateStore", "MemoryImageStore"]


class ImageRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    project: str
    image: str  # <registry>/<project>/<repository>:<tag>
    digest: str  # sha256:… of the manifest in the registry
    command_id: int  # the last conda command applied (builds of older commands are replays)

    @property
    def reference(self) -> str:
        """`<image>@<digest>`: pins the exact manifest."""
        return f"{self.image}@{self.digest}" if self.digest else self.image


class ImageStateStore(Protocol):
    def get(self, project: str) -> ImageRecord | None: ...

    def put(self, record: ImageRecord) -> None: ...

    def delete(self, project: str) -> None: ...


class MemoryImageStore:
    def __init__(self) -> None:
        self._records: dict[str, ImageRecord] = {}

    def get(self, project: str) -> ImageRecord | None:
        return self._records.get(project)

    def put(self, record: ImageRecord) -> None:
        self._records[record.project] = record

    def delete(self, project: str) -> None:
        self._records.pop(project, None)
