"""Configuration of the environment-image pipeline (one frozen object per process).

Read from the environment (prefix HOPSHARBOR_IMAGE_, e.g. HOPSHARBOR_IMAGE_REGISTRY=127.0.0.1:18080)
by the CLI handler or the worker's settings, then passed down; nothing here reads it at import.
Secrets are never fields here: robot secrets come from the SecretStore, the Harbor password
from a file named by `harbor_password_file`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ImageConfig"]


class ImageConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOPSHARBOR_IMAGE_", frozen=True, extra="ignore")

    enabled: bool = False  # the worker builds images only when HOPSHARBOR_IMAGE_ENABLED=true
    conda_table: str = "conda_commands"  # CDC topic <prefix>.<database>.<conda_table>
    records_topic: str = "hopsharbor.images"  # compacted: project -> ImageRecord (the worker's memory)

    # -- where images go ---------------------------------------------------------------------
    docker_host: str = "unix:///var/run/docker.sock"
    registry: str = "127.0.0.1:18080"  # host[:port] as written in image references
    registry_scheme: Literal["http", "https"] = "http"
    # Harbor reference: <registry>/<harbor project>/<repository>:<tag>. Defaults mirror
    # Hopsworks' own image names `<project>:<epochMillis>-<hopsworksVersion>.<n>`, with the
    # command id as <n> so that the tag is a function of the command (a replay finds it).
    repository_template: str = "{project}"
    tag_template: str = "{created_ms}-{hopsworks_version}.{command_id}"
    hopsworks_version: str = "4.0.0"
    base_image: str = "hopsharbor/python-base:bookworm"  # FROM of each project's first image

    # -- how images are built ----------------------------------------------------------------
    network_mode: str = "host"  # bridge networking is off in the local dockerd: "host" or "none"
    pip_args: str = ""  # extra `pip install` arguments, e.g. "--no-index --find-links /wheels"
    wheel_dir: Path | None = None  # copied into every build context as /wheels (local wheels)
    conda: bool = False  # the base image has conda: CONDA install types use it
    build_timeout: float = 1800.0
    log_tail_lines: int = 40

    # -- who pushes ----------------------------------------------------------------------------
    robot_prefix: str = "robot$"
    push_robot: str = "push"  # short robot name; Harbor account robot$<project>+push
    anonymous_push: bool = False  # plain registry without auth (local tests only)

    # -- queue -------------------------------------------------------------------------------
    # Builds are CPU-bound (pip inside the image): as many at once as the machine has cores.
    # Measured on 2 cores, 6 projects changing at once: p90 1.37x a lone build with 2 builders,
    # 2.5x with 3 and 3.5x with 6 (bench/images_push.py --parallel N).
    max_parallel_builds: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    retry_initial: float = 2.0
    retry_max: float = 120.0
    retry_attempts: int = 0  # 0 = retry a retriable failure until it succeeds
    project_wait: float = 30.0  # how long a command waits for its project row to arrive

    # -- shared base image project and Harbor API (repository deletion, base-image push) -------
    harbor_url: str = "http://127.0.0.1:18080"
    harbor_username: str = "admin"
    harbor_password_file: Path | None = None
    base_project: str = "library"
