"""The shared base image: built locally (no public hub is reachable), pushed to a shared project.

`build_base_image` runs the stack's recipe (deploy/local/services/baseimage.sh: mmdebstrap of a
minimal Debian with python3 and a venv at /opt/venv, from the machine's own apt sources file,
then `docker import`), so that `hopsharbor base-image build` and `deploy/local/stack up` make
the same image. `push_base_image` tags it as `<registry>/<base project>/<name>:<tag>` and pushes
it. Called by the CLI only; failures raise ImageError (the CLI prints them and exits 1).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from streams.images.builder import ImageBuilder
from streams.images.errors import TerminalImageError
from streams.images.naming import ImageRef, split_ref
from streams.images.registry import RegistryAuth

__all__ = ["RECIPE", "base_target", "build_base_image", "push_base_image"]

RECIPE = Path(__file__).resolve().parents[2] / "deploy" / "local" / "services" / "baseimage.sh"


def build_base_image(tag: str, recipe: Path = RECIPE) -> int:
    """Make image `tag` with the recipe in the stack's dockerd; returns the recipe's exit code."""
    if not recipe.exists():
        raise TerminalImageError(
            "unsupported_op", f"base image recipe {recipe} is missing (not a source checkout?)"
        )
    env = {**os.environ, "BASE_IMAGE": tag}
    for step in ("install", "start"):  # install: mmdebstrap and docker.io from apt when missing
        code = subprocess.run([str(recipe), step], env=env, check=False).returncode
        if code != 0:
            return code
    return 0


def base_target(source: str, registry: str, project: str) -> ImageRef:
    """`hopsharbor/python-base:bookworm` -> `<registry>/<project>/python-base:bookworm`."""
    name, tag = split_ref(source)
    return ImageRef(registry, project, name.rsplit("/", 1)[-1], tag)


def push_base_image(builder: ImageBuilder, source: str, target: ImageRef, auth: RegistryAuth | None) -> str:
    """Tag `source` as `target` and push it; returns the manifest digest."""
    builder.docker.images.get(source).tag(target.name, target.tag)
    builder.push(target, auth)
    manifest = builder.find(target, auth)
    if manifest is None:
        raise TerminalImageError("denied", f"pushed {target} but the registry does not show it")
    return manifest.digest
