"""`hopsharbor base-image build|push`: the base image every project's first image starts FROM.

Registered through streams.cli.COMMAND_MODULES. Configuration comes from ImageConfig
(HOPSHARBOR_IMAGE_*), read in the handler; the Harbor password from the file named by
HOPSHARBOR_IMAGE_HARBOR_PASSWORD_FILE (never a flag). Exit codes: 0 done, 1 failed.
"""

from __future__ import annotations

import argparse
import logging

from streams.images.config import ImageConfig
from streams.images.errors import ImageError

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("base-image", help="build or push the shared Python base image")
    sub = parser.add_subparsers(dest="base_image_command", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="make the base image locally (mmdebstrap + docker import)")
    build.add_argument("--tag", help="image name (default HOPSHARBOR_IMAGE_BASE_IMAGE)")
    build.set_defaults(func=_build)
    push = sub.add_parser("push", help="push the base image to the shared Harbor project")
    push.add_argument("--source", help="local image (default HOPSHARBOR_IMAGE_BASE_IMAGE)")
    push.add_argument("--project", help="Harbor project (default HOPSHARBOR_IMAGE_BASE_PROJECT)")
    push.set_defaults(func=_push)


def _build(args: argparse.Namespace) -> int:
    from streams.images.base import build_base_image

    config = ImageConfig()
    try:
        return 1 if build_base_image(args.tag or config.base_image) else 0
    except ImageError as exc:
        log.error("%s", exc)
        return 1


def _push(args: argparse.Namespace) -> int:
    from streams.images.agent import make_builder
    from streams.images.base import base_target, push_base_image
    from streams.images.registry import RegistryAuth

    config = ImageConfig()
    source = args.source or config.base_image
    target = base_target(source, config.registry, args.project or config.base_project)
    auth = None
    if not config.anonymous_push:
        if config.harbor_password_file is None:
            log.error("set HOPSHARBOR_IMAGE_HARBOR_PASSWORD_FILE (or HOPSHARBOR_IMAGE_ANONYMOUS_PUSH=true)")
            return 1
        auth = RegistryAuth(config.harbor_username, config.harbor_password_file.read_text().strip())
    builder = make_builder(config)
    try:
        digest = push_base_image(builder, source, target, auth)
    except ImageError as exc:
        log.error("push of %s failed: %s", target, exc)
        return 1
    print(f"{target}@{digest}")
    return 0
