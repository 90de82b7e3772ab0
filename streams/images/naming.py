"""Image names from commands: repository and tag are pure functions of (project, command).

Called by the build service before every build: a replay of the same command computes the same
reference, finds it in the registry and skips the build. The templates come from ImageConfig;
fields available to them: project, command_id, created_ms, hopsworks_version, op, lib, version.
A template that yields a name Docker rejects raises `TerminalImageError("bad_name")`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from streams.images.commands import CondaCommand
from streams.images.config import ImageConfig
from streams.images.errors import TerminalImageError

__all__ = ["ImageRef", "image_ref", "render_tag", "render_repository", "split_ref"]

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


@dataclass(frozen=True)
class ImageRef:
    registry: str  # host[:port]
    project: str  # Harbor project (namespace)
    repository: str  # path inside the project
    tag: str

    @property
    def name(self) -> str:
        """`<registry>/<project>/<repository>` (what docker push takes without the tag)."""
        return f"{self.registry}/{self.project}/{self.repository}"

    @property
    def path(self) -> str:
        """`<project>/<repository>` (the registry API's repository name)."""
        return f"{self.project}/{self.repository}"

    def __str__(self) -> str:
        return f"{self.name}:{self.tag}"


def _fields(project: str, command: CondaCommand, config: ImageConfig) -> dict[str, object]:
    return {
        "project": project,
        "command_id": command.id,
        "created_ms": command.created,
        "hopsworks_version": config.hopsworks_version,
        "op": command.op.lower(),
        "lib": (command.lib or "").lower(),
        "version": command.version or "",
    }


def render_tag(project: str, command: CondaCommand, config: ImageConfig) -> str:
    try:
        tag = config.tag_template.format(**_fields(project, command, config))
    except (KeyError, IndexError, ValueError) as exc:
        raise TerminalImageError("bad_name", f"tag template {config.tag_template!r}: {exc}") from None
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", tag)  # e.g. a '+' in a version
    if not _TAG.match(tag):
        raise TerminalImageError("bad_name", f"tag {tag!r} is not a valid image tag")
    return tag


def render_repository(project: str, config: ImageConfig) -> str:
    try:
        repo = config.repository_template.format(project=project).lower()
    except (KeyError, IndexError, ValueError) as exc:
        raise TerminalImageError(
            "bad_name", f"repository template {config.repository_template!r}: {exc}"
        ) from None
    if not _REPO.match(repo):
        raise TerminalImageError("bad_name", f"repository {repo!r} is not a valid repository name")
    return repo


def image_ref(project: str, command: CondaCommand, config: ImageConfig) -> ImageRef:
    """Where the image of `command` in `project` lives."""
    if not _REPO.match(project):
        raise TerminalImageError("bad_name", f"project {project!r} is not a valid registry namespace")
    return ImageRef(
        config.registry, project, render_repository(project, config), render_tag(project, command, config)
    )


def split_ref(ref: str) -> tuple[str, str]:
    """`host:port/a/b:tag` -> (`host:port/a/b`, `tag`); no tag -> `latest`."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, "latest"
    return name, tag
