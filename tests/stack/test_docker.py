"""dockerd of the local stack builds FROM the local base image (classic builder, a RUN step that
pip-installs a local wheel without any index), pushes to the plain registry, pulls back and runs."""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.conftest import Stack

pytestmark = pytest.mark.integration


def _write_wheel(directory: Path, name: str, version: str, module_source: str) -> Path:
    """A minimal pure-Python wheel (PEP 427) holding one module `name`."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": module_source.encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hopsharbor-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = io.StringIO()
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.write(f"{path},sha256={digest},{len(data)}\n")
    record.write(f"{dist_info}/RECORD,,\n")
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def _check_push(progress: Iterator[dict]) -> list[dict]:
    """The SDK does not raise on a failed push: the error is a line of the progress stream."""
    lines = list(progress)
    errors = [line for line in lines if "error" in line]
    assert not errors, errors
    return lines


def test_image_built_from_local_base_pushed_pulled_and_run(stack: Stack, tmp_path: Path) -> None:
    stack.require("registry")
    client = docker.DockerClient(base_url=stack.docker_host, timeout=300)
    base = stack.env["BASE_IMAGE"]
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{base} is missing from dockerd: run `deploy/local/stack up baseimage`")

    token = uuid.uuid4().hex
    (tmp_path / "wheels").mkdir()
    _write_wheel(tmp_path / "wheels", "hopsharbor_smoke", "1.0", f"TOKEN = {token!r}\n")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base}\n"
        "COPY wheels /wheels\n"
        # The build's RUN step has no network (bridge disabled, not asked for "host"): pip must
        # manage with the local wheel alone.
        "RUN pip install --no-index --find-links /wheels hopsharbor_smoke==1.0\n"
    )  # no CMD: with vfs every build step copies the whole root, so the command is given to run
    # One repository for every run: docker then finds the base layer already in the registry
    # instead of uploading ~170 MB again; the tag is unique.
    repository = f"127.0.0.1:{stack.port('registry')}/smoke/docker"
    tag = token[:12]
    ref = f"{repository}:{tag}"
    try:
        image, _ = client.images.build(path=str(tmp_path), tag=ref, rm=True, forcerm=True)
        assert image.attrs["Config"]["Env"][0].startswith("PATH=/opt/venv/bin")  # inherited from the base

        _check_push(client.images.push(repository, tag=tag, stream=True, decode=True))
        client.images.remove(ref, force=True)
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(ref)

        pulled = client.images.pull(repository, tag=tag)
        assert pulled.id == image.id
        output = client.containers.run(
            ref, ["python", "-c", "import hopsharbor_smoke, sys; print(hopsharbor_smoke.TOKEN, sys.prefix)"],
            remove=True, network_mode="none",
        )
        assert output.decode().split() == [token, "/opt/venv"]
    finally:
        try:
            client.images.remove(ref, force=True)
        except docker.errors.ImageNotFound:
            pass
        client.close()
