"""Dockerfiles for library operations, as Hopsworks writes them: FROM the current image + one step.

Pure; called by the build service for each command to build. INSTALL becomes
`RUN pip install --upgrade 'lib==version'` (or `conda install` when the base has conda and the
install type is CONDA), UNINSTALL `pip uninstall -y lib` (or `conda remove`), CREATE /
SYNC_BASE_ENV the base image itself. Every image carries labels naming its command, so an image
found in a registry says where it came from. Library names and versions are validated (they end
up in a shell command): anything else raises `TerminalImageError("bad_command")`; install types
that need files from HopsFS raise `TerminalImageError("unsupported_op")`.
"""

from __future__ import annotations

import io
import re
import shlex
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from streams.images.commands import CondaCommand, CondaOp, InstallType
from streams.images.config import ImageConfig
from streams.images.errors import TerminalImageError

__all__ = ["BuildContext", "render_build", "context_tar", "WHEELS_DIR"]

WHEELS_DIR = "/wheels"  # where ImageConfig.wheel_dir is copied inside the build
_LIB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_.,-]+\])?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.*+!_-]*$")
_CHANNEL = re.compile(r"^[A-Za-z0-9:/._-]+$")
_PIP_TYPES = frozenset({None, "", InstallType.PIP, InstallType.ENVIRONMENT})


@dataclass(frozen=True)
class BuildContext:
    dockerfile: str
    files: dict[str, Path] = field(default_factory=dict)  # name in the context -> file or directory
    labels: dict[str, str] = field(default_factory=dict)


def _lib(command: CondaCommand) -> str:
    if not command.lib or not _LIB.match(command.lib):
        raise TerminalImageError("bad_command", f"library name {command.lib!r} is not a package name")
    return command.lib


def _spec(command: CondaCommand, sep: str) -> str:
    lib = _lib(command)
    if not command.version:
        return lib
    if not _VERSION.match(command.version):
        raise TerminalImageError("bad_command", f"version {command.version!r} of {lib} is not a version")
    return f"{lib}{sep}{command.version}"


def _use_conda(command: CondaCommand, config: ImageConfig) -> bool:
    return config.conda and command.install_type == InstallType.CONDA


def _step(command: CondaCommand, config: ImageConfig) -> str | None:
    if command.op in (CondaOp.CREATE, CondaOp.SYNC_BASE_ENV):
        return None
    conda = _use_conda(command, config)
    if command.op == CondaOp.INSTALL:
        if conda:
            channel = ""
            if command.channel_url:
                if not _CHANNEL.match(command.channel_url):
                    raise TerminalImageError("bad_command", f"channel {command.channel_url!r} is not a URL")
                channel = f" -c {shlex.quote(command.channel_url)}"
            return f"RUN conda install -y{channel} {shlex.quote(_spec(command, '='))} && conda clean -afy"
        if command.install_type not in _PIP_TYPES and command.install_type != InstallType.CONDA:
            raise TerminalImageError(
                "unsupported_op", f"install type {command.install_type} needs files from HopsFS"
            )
        extra = f" {config.pip_args.strip()}" if config.pip_args.strip() else ""
        return f"RUN pip install --upgrade{extra} {shlex.quote(_spec(command, '=='))}"
    if command.op == CondaOp.UNINSTALL:
        if conda:
            return f"RUN conda remove -y {shlex.quote(_lib(command))}"
        return f"RUN pip uninstall -y {shlex.quote(_lib(command))}"
    raise TerminalImageError("unsupported_op", f"op {command.op} makes no image")


def render_build(parent: str, project: str, command: CondaCommand, config: ImageConfig) -> BuildContext:
    """The Dockerfile (and context files) that turn image `parent` into the image of `command`."""
    step = _step(command, config)
    labels = {
        "org.hopsharbor.project": project,
        "org.hopsharbor.command": str(command.id),
        "org.hopsharbor.op": command.op,
    }
    lines = [f"FROM {parent}"]
    files: dict[str, Path] = {}
    if step is not None and config.wheel_dir is not None and not _use_conda(command, config):
        files["wheels"] = config.wheel_dir
        lines.append(f"COPY wheels {WHEELS_DIR}")
    if step is not None:
        lines.append(step)
    lines.append("LABEL " + " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(labels.items())))
    return BuildContext(dockerfile="\n".join(lines) + "\n", files=files, labels=labels)


def context_tar(context: BuildContext) -> io.BytesIO:
    """The build context as an uncompressed tar (what the Docker API's /build takes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = context.dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
        for name, path in sorted(context.files.items()):
            tar.add(str(path), arcname=name)
    buf.seek(0)
    return buf
