"""The hopsharbor container image (deploy/docker): built in the local dockerd, started, inspected.

The module builds the image once with deploy/docker/build.sh (wheels from the host's pip, then a
build whose RUN steps have no network) and runs short-lived containers on network "none" (the
local dockerd has no bridge). The last test runs the connector and the worker pods as the Helm
chart renders them (arguments, ConfigMap environment, Secret files, user, read-only root with
emptyDir volumes) in this image against the local stack.
Cold: about three minutes (dependency wheels, vfs layer copies);
warm: well under a minute, since only the hopsharbor layers are rebuilt.
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "deploy" / "docker" / "build.sh"
CHART = REPO / "deploy" / "helm" / "hopsharbor"
INSTALL_HELM = REPO / "deploy" / "tools" / "install-helm.sh"
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


# --- the chart's pods, run in this image ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def container_kwargs(manifests: list[dict[str, Any]], component: str, secret_dir: Path,
                     overrides: dict[str, str]) -> dict[str, Any]:
    """docker-py arguments equivalent to the rendered pod of `component` (one container): args,
    envFrom ConfigMap + env, Secret volumes as read-only binds of `secret_dir`, emptyDirs as
    tmpfs owned by the pod's user, read-only root, no capabilities. `overrides` replaces
    environment values that must differ here (the local stack's addresses; 127.0.0.1 instead of
    the pod address, since servers on this machine bind to loopback only)."""
    deployment = next(m for m in manifests if m["kind"] == "Deployment"
                      and m["metadata"]["labels"]["app.kubernetes.io/component"] == component)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        cm = next(m for m in manifests if m["kind"] == "ConfigMap"
                  and m["metadata"]["name"] == source["configMapRef"]["name"])
        env.update(cm["data"])
    env.update({e["name"]: e["value"] for e in container.get("env", [])})
    env.update(overrides)
    volumes = {v["name"]: v for v in pod["volumes"]}
    uid, gid = pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]
    binds: dict[str, dict[str, str]] = {}
    tmpfs: dict[str, str] = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "secret" in volume:
            mode = "ro" if mount.get("readOnly") else "rw"
            binds[str(secret_dir)] = {"bind": mount["mountPath"], "mode": mode}
        elif "emptyDir" in volume:
            tmpfs[mount["mountPath"]] = f"uid={uid},gid={gid},mode=0770"
    sc = container["securityContext"]
    return dict(
        command=container["args"], environment=env, user=f"{uid}:{gid}", volumes=binds, tmpfs=tmpfs,
        read_only=sc["readOnlyRootFilesystem"], cap_drop=sc["capabilities"]["drop"],
        security_opt=["no-new-privileges"] if sc["allowPrivilegeEscalation"] is False else [],
        network_mode="host", detach=True,
    )


def test_chart_pods_run_in_the_image(stack, docker_client, image, mysql_db, topic_prefix, tmp_path) -> None:
    stack.require("kafka")
    helm_bin = subprocess.run([str(INSTALL_HELM)], capture_output=True, text=True, timeout=1500, check=True)
    helm = helm_bin.stdout.strip().splitlines()[-1]
    ports = {"connector": free_port(), "worker": free_port()}
    rendered = subprocess.run(
        [helm, "template", "t", str(CHART), "--kube-version", "1.33.0",
         "--set", f"connector.metricsPort={ports['connector']}",
         "--set", f"worker.metricsPort={ports['worker']}"],
        capture_output=True, text=True, timeout=120,
    )
    assert rendered.returncode == 0, rendered.stderr
    manifests = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    local = {
        "HOPSHARBOR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "HOPSHARBOR_TOPIC_PREFIX": topic_prefix,
        "HOPSHARBOR_DATABASE": mysql_db.name,
        "HOPSHARBOR_TOPIC_REPLICATION": "1",
        "HOPSHARBOR_METRICS_HOST": "127.0.0.1",
    }
    secrets = {"connector": (mysql_db.capture_password, {
        "HOPSHARBOR_MYSQL_HOST": mysql_db.host, "HOPSHARBOR_MYSQL_PORT": str(mysql_db.port),
        "HOPSHARBOR_MYSQL_USER": mysql_db.capture_user,
        "HOPSHARBOR_SERVER_ID": str(random.randint(10_000, 4_000_000)), "HOPSHARBOR_SNAPSHOT_MODE": "never",
    }), "worker": ("not-used-reconcile-is-off", {
        # No Harbor needed to become healthy: derive and publish only.
        "HOPSHARBOR_RECONCILE_ENABLED": "false", "HOPSHARBOR_APP_ID": f"{topic_prefix}-worker",
        "HOPSHARBOR_STATE_TOPIC": f"{topic_prefix}.state", "HOPSHARBOR_DLQ_TOPIC": f"{topic_prefix}.dlq",
    })}
    containers = {}
    try:
        for component, (password, extra) in secrets.items():
            secret_dir = tmp_path / component
            secret_dir.mkdir()
            secret_dir.chmod(0o755)
            (secret_dir / "password").write_text(password)
            (secret_dir / "password").chmod(0o444)
            kwargs = container_kwargs(manifests, component, secret_dir, {**local, **extra})
            assert kwargs["read_only"] and kwargs["user"].split(":")[0] != "0"
            containers[component] = docker_client.containers.run(image.id, **kwargs)
        deadline = time.monotonic() + 120
        healthy: dict[str, int] = {}
        while len(healthy) < len(containers) and time.monotonic() < deadline:
            for component, container in containers.items():
                container.reload()
                assert container.status == "running", container.logs().decode()[-3000:]
                try:
                    url = f"http://127.0.0.1:{ports[component]}/healthz"
                    with urllib.request.urlopen(url, timeout=2) as r:
                        healthy[component] = r.status
                except OSError:
                    pass
            time.sleep(1)
        assert healthy == {"connector": 200, "worker": 200}, {
            c: containers[c].logs().decode()[-3000:] for c in containers if c not in healthy}
        # The password came from the mounted file only: it is in neither the arguments nor the environment.
        inspected = containers["connector"].attrs
        assert mysql_db.capture_password not in " ".join(inspected["Config"]["Env"] + inspected["Args"])
    finally:
        for container in containers.values():
            container.remove(force=True)
