"""Environment images in the real Harbor: per-project robots, isolation, repository removal.

Skipped (with the reason) until Harbor core answers http://127.0.0.1:$HARBOR_PORT/api/v2.0/ping.
Each test makes its own Harbor projects and push robots (admin password: .stack/secrets/harbor-admin)
and deletes them afterwards.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import pytest

from streams.harbor import HarborClient
from streams.images.builder import ImageBuilder
from streams.images.config import ImageConfig
from streams.images.credentials import RobotCredentials
from streams.images.errors import TerminalImageError
from streams.images.naming import ImageRef
from streams.images.registry import RegistryClient
from streams.images.repositories import HarborRepositoryRemover
from streams.secrets import DirectorySecretStore
from streams.secrets.base import generate_secret
from tests.conftest import Stack
from tests.streams.images.test_build_registry import Pipeline, deleted, has_probe

pytestmark = pytest.mark.integration


async def make_project(client: HarborClient, secrets: DirectorySecretStore, name: str) -> None:
    await client.create_project(name)
    robot_id, _, _ = await client.create_robot(name, "push", ["pull", "push"])
    secret = generate_secret()
    await client.set_robot_secret(robot_id, secret)
    secrets.put(f"{name}+push", secret)


async def test_two_projects_isolated_and_removal_deletes_repositories(
    stack: Stack, harbor_url: str, docker_client: docker.DockerClient, wheel_dir: Path, tmp_path: Path
) -> None:
    url = harbor_url
    registry = url.removeprefix("http://")
    secrets = DirectorySecretStore(tmp_path / "secrets")
    names = [f"img{uuid.uuid4().hex[:8]}a", f"img{uuid.uuid4().hex[:8]}b"]
    cfg = ImageConfig(
        docker_host=stack.docker_host,
        registry=registry,
        base_image=stack.env["BASE_IMAGE"],
        wheel_dir=wheel_dir,
        pip_args="--no-index --find-links /wheels",
        network_mode="none",
        retry_attempts=1,
        project_wait=1.0,
    )
    images: list[str] = []
    async with HarborClient(url, "admin", stack.secret("harbor-admin")) as client:
        try:
            for name in names:
                await make_project(client, secrets, name)
            refs: list[ImageRef] = []
            for name in names:
                pipeline = Pipeline(cfg, docker_client, name)
                pipeline.service.credentials = RobotCredentials(secrets)
                await pipeline.run([("d", deleted(1, "INSTALL"), None)])
                assert pipeline.letters == [] and [r.built for r in pipeline.results] == [True]
                images.append(pipeline.results[0].ref)
                refs.append(ImageRef(registry, name, name, pipeline.results[0].ref.rsplit(":", 1)[1]))
            assert has_probe(docker_client, images[0])

            robot_a = RobotCredentials(secrets).push_auth(names[0])
            with RegistryClient(url) as reg:
                assert reg.manifest(refs[0].path, refs[0].tag, robot_a) is not None
                with pytest.raises(TerminalImageError) as pulled:  # A's robot cannot read B's image
                    reg.manifest(refs[1].path, refs[1].tag, robot_a)
                assert pulled.value.reason == "denied"
            # ... nor push into B's project.
            intruder = ImageRef(registry, names[1], names[1], "intruder")
            docker_client.images.get(images[0]).tag(intruder.name, intruder.tag)
            images.append(str(intruder))
            builder = ImageBuilder(docker_client, RegistryClient(url))
            with pytest.raises(TerminalImageError) as pushed:
                builder.push(intruder, robot_a)
            assert pushed.value.reason == "denied"

            remover = HarborRepositoryRemover(client, cfg)
            assert await remover.remove_environment(names[0]) == 1
            assert await client.list_repositories(names[0]) == []
            assert len(await client.list_repositories(names[1])) == 1
        finally:
            for name in names:
                await HarborRepositoryRemover(client, cfg).remove_environment(name)
                await client.delete_project(name)
            for image in images:
                try:
                    docker_client.images.remove(image, force=True)
                except docker.errors.ImageNotFound:
                    pass
