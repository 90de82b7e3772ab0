"""Delete a project's environment repositories in Harbor (REMOVE command, project deleted).

Called by the build service in the project's queue, after the project's earlier builds. Only
the repositories the naming scheme puts images in are deleted (`<project>/<repository>` and
anything below it); the Harbor project itself is the reconciler's (it deletes the project once
the desired state says so, after deleting whatever repositories remain). Harbor errors arrive
as streams.harbor errors and are translated here.
"""

from __future__ import annotations

from typing import Protocol

from streams.harbor import HarborClient, HarborError, NotFoundError
from streams.images.config import ImageConfig
from streams.images.errors import RetriableImageError, TerminalImageError
from streams.images.naming import render_repository

__all__ = ["RepositoryRemover", "HarborRepositoryRemover"]


class RepositoryRemover(Protocol):
    async def remove_environment(self, project: str) -> int:
        """Delete the project's environment repositories; returns how many were deleted."""
        ...


class HarborRepositoryRemover:
    def __init__(self, client: HarborClient, config: ImageConfig) -> None:
        self.client = client
        self.config = config

    async def remove_environment(self, project: str) -> int:
        wanted = render_repository(project, self.config)
        try:
            repositories = await self.client.list_repositories(project)
            deleted = 0
            for repo in repositories:
                inner = repo.name.removeprefix(f"{project}/")
                if inner == wanted or inner.startswith(f"{wanted}/"):
                    await self.client.delete_repository(project, repo.name)
                    deleted += 1
            return deleted
        except NotFoundError:
            return 0  # no such Harbor project: nothing left to delete
        except HarborError as exc:
            if exc.retriable:
                raise RetriableImageError(
                    "registry_error", f"delete repositories of {project}: {exc}"
                ) from None
            raise TerminalImageError("denied", f"delete repositories of {project}: {exc}") from None
