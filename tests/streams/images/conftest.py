"""Fixtures of the image tests: a Docker client on the stack's dockerd, a local wheel, configs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.streams.images.wheels import make_wheel


@pytest.fixture
def docker_client(stack: Stack) -> Iterator[object]:
    import docker

    if not Path(stack.docker_host.removeprefix("unix://")).exists():
        pytest.fail(
            f"dockerd is not running ({stack.docker_host}): run `deploy/local/stack up dockerd baseimage`"
        )
    client = docker.DockerClient(base_url=stack.docker_host, timeout=600)
    base = stack.env["BASE_IMAGE"]
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        pytest.fail(f"base image {base} is missing: run `deploy/local/stack up baseimage`")
    yield client
    client.close()


@pytest.fixture
def wheel_dir(tmp_path: Path) -> Path:
    """A directory with the wheel `hhprobe==1.0` (the package the tests install and uninstall)."""
    directory = tmp_path / "wheels"
    make_wheel(directory, "hhprobe", "1.0")
    return directory


@pytest.fixture
def project_name() -> str:
    return f"img{uuid.uuid4().hex[:10]}"
