"""Which Harbor project a Hopsworks project id is: conda_commands rows carry only `project_id`.

Fed by the image agent from the `project` CDC topic (`apply_project_event`), read by the build
service. The two topics are consumed in no common order, so a command may arrive before its
project row: `wait_name` waits (bounded) for it. Names come from A's mapping (`project_name`:
lower-cased, optional prefix), so images land in the project the reconciler made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from streams.mapping.config import MappingConfig
from streams.mapping.derive import project_name
from streams.mapping.events import ChangeEvent
from streams.mapping.rows import ProjectRow

__all__ = ["ProjectDirectory", "apply_project_event"]


class ProjectDirectory:
    """id -> name from the events seen by this process, falling back on `rows` (the worker's
    table of project rows by id, recovered from its changelog after a restart)."""

    def __init__(self, rows: Mapping[str, Any] | None = None, mapping: MappingConfig | None = None) -> None:
        self._names: dict[int, str] = {}
        self._ids: dict[str, int] = {}
        self._rows = rows
        self._mapping = mapping or MappingConfig()

    def name(self, project_id: int) -> str | None:
        name = self._names.get(project_id)
        if name is None and self._rows is not None:
            row = self._rows.get(str(project_id))
            if row is not None:
                name = project_name(ProjectRow.model_validate(row), self._mapping)
        return name

    def name_from_image(self, image: str | None) -> str | None:
        """The Harbor name of the project an image reference (`[registry/]<project>:<tag>`) names."""
        if not image:
            return None
        path = image.rsplit("@", 1)[0]
        last = path.rsplit("/", 1)[-1]
        hopsworks_name = last.split(":", 1)[0]
        if not hopsworks_name:
            return None
        row = ProjectRow(id=0, projectname=hopsworks_name, username="")
        return project_name(row, self._mapping)

    def id_of(self, name: str) -> int | None:
        """The live project that has this name now, if any."""
        return self._ids.get(name)

    def set(self, project_id: int, name: str) -> None:
        old = self._names.get(project_id)
        if old is not None and self._ids.get(old) == project_id:
            del self._ids[old]
        self._names[project_id] = name
        self._ids[name] = project_id

    def forget(self, project_id: int) -> str | None:
        name = self._names.pop(project_id, None)
        if name is not None and self._ids.get(name) == project_id:
            del self._ids[name]
        return name

    async def wait_name(self, project_id: int, timeout: float, poll: float = 0.1) -> str | None:
        """The name of `project_id`, waiting up to `timeout` seconds for its row to arrive.

        Polls: the row may arrive through this directory or through the worker's table."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (name := self.name(project_id)) is None and loop.time() < deadline:
            await asyncio.sleep(min(poll, max(0.0, deadline - loop.time())))
        return name


def apply_project_event(directory: ProjectDirectory, event: ChangeEvent, config: MappingConfig) -> str | None:
    """Record a `project` row change; returns the Harbor name of a project that was deleted."""
    row = ProjectRow.from_row(event.row)
    if event.op == "d":
        return directory.forget(row.id) or project_name(row, config)
    directory.set(row.id, project_name(row, config))
    return None
