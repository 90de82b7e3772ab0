"""Which Harbor project a Hopsworks project id is: conda_commands rows carry only `project_id`.

Fed by the image agent from the `project` CDC topic (`apply_project_event`), read by the build
service. The two topics are consumed in no common order, so a command may arrive before its
project row: `wait_name` waits (bounded) for it. Names come from A's mapping (`project_name`:
lower-cased, optional prefix), so images land in the project the reconciler made.
"""

from __future__ import annotations

import asyncio

from streams.mapping.config import MappingConfig
from streams.mapping.derive import project_name
from streams.mapping.events import ChangeEvent
from streams.mapping.rows import ProjectRow

__all__ = ["ProjectDirectory", "apply_project_event"]


class ProjectDirectory:
    def __init__(self) -> None:
        self._names: dict[int, str] = {}
        self._ids: dict[str, int] = {}
        self._changed = asyncio.Condition()

    def name(self, project_id: int) -> str | None:
        return self._names.get(project_id)

    def id_of(self, name: str) -> int | None:
        """The live project that has this name now, if any."""
        return self._ids.get(name)

    def set(self, project_id: int, name: str) -> None:
        old = self._names.get(project_id)
        if old is not None and self._ids.get(old) == project_id:
            del self._ids[old]
        self._names[project_id] = name
        self._ids[name] = project_id
        self._notify()

    def forget(self, project_id: int) -> str | None:
        name = self._names.pop(project_id, None)
        if name is not None and self._ids.get(name) == project_id:
            del self._ids[name]
        return name

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._changed:
                self._changed.notify_all()

        try:
            asyncio.get_running_loop().create_task(wake())
        except RuntimeError:  # no loop (a synchronous caller): nobody can be waiting
            pass

    async def wait_name(self, project_id: int, timeout: float) -> str | None:
        """The name of `project_id`, waiting up to `timeout` seconds for its row to arrive."""
        if (name := self._names.get(project_id)) is not None:
            return name
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: project_id in self._names)
        except TimeoutError:
            return None
        return self._names.get(project_id)


def apply_project_event(directory: ProjectDirectory, event: ChangeEvent, config: MappingConfig) -> str | None:
    """Record a `project` row change; returns the Harbor name of a project that was deleted."""
    row = ProjectRow.from_row(event.row)
    if event.op == "d":
        return directory.forget(row.id) or project_name(row, config)
    directory.set(row.id, project_name(row, config))
    return None
