"""The hopsharbor container image (deploy/docker): built in the local dockerd, started, inspected.

The module builds the image once with deploy/docker/build.sh (wheels from the host's pip, then a
build whose RUN steps have no network) and runs short-lived containers on network "none" (the
local dockerd has no bridge). Cold: about three minutes (dependency wheels, vfs layer copies);
warm: well under a minute, since only the hopsharbor layers are rebuilt.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "deploy" / "docker" / "build.sh"
TAG = "hopsharbor:test"
# Names of variables that would carry a secret if the image set them.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|_KEY$", re.IGNORECASE)


@pytest.fixture(scope="module")
def docker_client(stack):  # -> docker.DockerClient
    import docker

    sock = Path(stack.docker_host.removeprefix("unix://"))
    if not sock.is_socket():
        pytest.fail(f"no dockerd socket at {sock}: run `deploy/local/stack up dockerd baseimage`")
    client = docker.DockerClient(base_url=stack.docker_host, timeout=120)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def image(stack, docker_client) -> Iterator[object]:  # -> docker.models.images.Image
    env = {**os.environ, "DOCKER_HOST": stack.docker_host}
    proc = subprocess.run([str(BUILD), TAG], env=env, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        pytest.fail(f"{BUILD} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    image_id = proc.stdout.strip().splitlines()[-1]
    yield docker_client.images.get(image_id)


def run(docker_client, image, command: list[str], entrypoint: list[str] | None = None) -> tuple[int, str]:
    """Runs a container to completion on network "none"; returns (exit code, stdout+stderr)."""
    container = docker_client.containers.create(
        image.id, command=command, entrypoint=entrypoint, network_mode="none", detach=True,
    )
    try:
        container.start()
        status = container.wait(timeout=300)
        return int(status["StatusCode"]), container.logs(stdout=True, stderr=True).decode()
    finally:
        container.remove(force=True)


# Every container costs a full copy of the image on the local dockerd's vfs storage (10-40 s on a
# busy machine), so the checks that need a shell share one container: each prints a section.
PROBE = """
set -u
section() { echo "=== $1"; }
section help; hopsharbor --help; echo "rc=$?"
section connector; hopsharbor connector --help; echo "rc=$?"
section connector-run; hopsharbor connector run --help; echo "rc=$?"
section worker; hopsharbor worker --help; echo "rc=$?"
section ids; id -u; id -g; pwd
section writable; echo x > probe && echo ok
section leftovers; ls -d /tmp/wheels /opt/app /etc/pip.conf /root/.config/pip 2>/dev/null; echo end
"""


@pytest.fixture(scope="module")
def probe(docker_client, image) -> dict[str, str]:
    """Output of PROBE run in the image (as its default user), by section name."""
    code, out = run(docker_client, image, ["-c", PROBE], entrypoint=["sh"])
    assert code == 0, out
    sections: dict[str, str] = {}
    for chunk in out.split("=== ")[1:]:
        name, _, body = chunk.partition("\n")
        sections[name.strip()] = body
    return sections


def test_entrypoint_is_hopsharbor_and_its_commands_start(docker_client, image) -> None:
    assert image.attrs["Config"]["Entrypoint"] == ["hopsharbor"]
    # Through the image's own entrypoint, as Kubernetes starts it (args only).
    code, out = run(docker_client, image, ["connector", "--help"])
    assert code == 0, out
    assert out.startswith("usage: hopsharbor connector")


def test_help_lists_both_processes(probe: dict[str, str]) -> None:
    assert probe["help"].startswith("usage: hopsharbor")
    assert probe["help"].rstrip().endswith("rc=0")
    assert "connector" in probe["help"] and "worker" in probe["help"]


@pytest.mark.parametrize("section,usage", [
    ("connector", "usage: hopsharbor connector"),
    ("connector-run", "usage: hopsharbor connector run"),
    ("worker", "usage: hopsharbor worker"),
])
def test_subcommands_start(probe: dict[str, str], section: str, usage: str) -> None:
    assert probe[section].startswith(usage), probe[section]
    assert probe[section].rstrip().endswith("rc=0")


def test_runs_as_non_root_with_a_writable_workdir(image, probe: dict[str, str]) -> None:
    user = image.attrs["Config"]["User"]
    assert user and user.split(":")[0] not in ("", "0", "root")
    uid, gid, cwd = probe["ids"].split()
    assert int(uid) != 0 and int(gid) != 0
    assert cwd == "/var/lib/hopsharbor"
    assert probe["writable"].strip() == "ok"


def test_no_secret_and_no_build_leftovers_in_the_image(image, probe: dict[str, str]) -> None:
    env_names = [e.split("=", 1)[0] for e in image.attrs["Config"]["Env"] or []]
    assert not [n for n in env_names if SECRET_NAME.search(n)], env_names
    for step in image.history():
        assert not SECRET_NAME.search(step.get("CreatedBy", "")), step
    # Wheels stayed in the build stages, and no pip configuration (index, credentials) came along.
    assert probe["leftovers"].split() == ["end"], probe["leftovers"]
