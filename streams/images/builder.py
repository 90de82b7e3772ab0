"""Build, push and find environment images with the Docker engine (docker SDK, classic builder).

`ImageBuilder.build_and_push` is called by the build service in a worker thread (the docker SDK
blocks), one call per command, never two for the same project at once. It
  1. asks the registry whether the command's tag exists; if so it returns that digest: a replay
     builds nothing;
  2. makes sure the parent image is in dockerd (pulls it with the project's credentials if not);
  3. builds the Dockerfile (classic builder; RUN steps on `ImageConfig.network_mode`);
  4. pushes with the project's push robot and reads the manifest back: the digest to record and
     the compressed size of the layers really sent (layers already in the registry are skipped).
docker errors are translated here: a failed build step -> BuildFailed (with the log tail),
dockerd unreachable -> RetriableImageError, a push refused -> TerminalImageError("denied").
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

from streams.images.dockerfile import BuildContext, context_tar
from streams.images.errors import BuildFailed, ImageError, RetriableImageError, TerminalImageError
from streams.images.naming import ImageRef
from streams.images.registry import Manifest, RegistryAuth, RegistryClient

__all__ = ["BuildResult", "ImageBuilder", "pushed_layer_ids"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildResult:
    ref: str
    digest: str
    built: bool  # False: the tag was already in the registry, nothing was built or pushed
    build_seconds: float = 0.0
    push_seconds: float = 0.0
    pushed_bytes: int = 0  # compressed bytes of the blobs sent (layers and config)
    new_layer_bytes: int = 0  # compressed size of the layers the parent does not have


def pushed_layer_ids(progress: Iterable[Mapping[str, Any]]) -> tuple[set[str], str | None]:
    """From a push's progress stream: the short ids of the layers sent, and the error if any.

    Layers reported "Layer already exists" or "Mounted from …" were not sent.
    """
    pushed: set[str] = set()
    error: str | None = None
    for item in progress:
        if "error" in item:
            error = str(item.get("error"))
        elif item.get("status") == "Pushed" and item.get("id"):
            pushed.add(str(item["id"]))
    return pushed, error


def _docker_boundary(what: str) -> Callable[[Exception], ImageError]:
    def translate(exc: Exception) -> ImageError:
        if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return RetriableImageError("docker_unreachable", f"{what}: {exc}")
        if isinstance(exc, docker.errors.APIError) and (exc.status_code or 500) >= 500:
            return RetriableImageError("docker_unreachable", f"{what}: {exc}")
        return TerminalImageError("build_failed", f"{what}: {exc}")

    return translate


class ImageBuilder:
    """Builds with `docker_client` (e.g. docker.DockerClient(base_url=...)), finds tags with `registry`."""

    def __init__(
        self,
        docker_client: docker.DockerClient,
        registry: RegistryClient,
        *,
        network_mode: str = "host",
        log_tail_lines: int = 40,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.docker = docker_client
        self.registry = registry
        self.network_mode = network_mode
        self.log_tail_lines = log_tail_lines
        self.clock = clock

    # -- steps -------------------------------------------------------------------------------

    def find(self, ref: ImageRef, auth: RegistryAuth | None) -> Manifest | None:
        return self.registry.manifest(ref.path, ref.tag, auth)

    def ensure_local(self, image: str, auth: RegistryAuth | None) -> None:
        """Pull `image` unless dockerd has it (the parent of a build must be local: no pull=True)."""
        translate = _docker_boundary(f"pull {image}")
        try:
            self.docker.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        except Exception as exc:  # noqa: BLE001 - translated at this boundary
            raise translate(exc) from None
        try:
            self.docker.api.pull(image, auth_config=auth.docker() if auth else None)
        except docker.errors.NotFound as exc:
            raise BuildFailed(f"parent image {image} is not in the registry: {exc.explanation}") from None
        except Exception as exc:  # noqa: BLE001
            raise translate(exc) from None

    def build(self, context: BuildContext, ref: ImageRef) -> str:
        """Build and tag `ref`; returns the image id. A failed step raises BuildFailed with the log tail."""
        tail: collections.deque[str] = collections.deque(maxlen=self.log_tail_lines)
        image_id = ""
        try:
            stream: Iterator[dict[str, Any]] = self.docker.api.build(
                fileobj=context_tar(context),
                custom_context=True,
                tag=str(ref),
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                network_mode=self.network_mode,
            )
            for item in stream:
                if "stream" in item:
                    for line in str(item["stream"]).splitlines():
                        if line.strip():
                            tail.append(line)
                if "error" in item:
                    tail.append(str(item["error"]))
                    raise BuildFailed(str(item["error"]).strip(), log_tail="\n".join(tail))
                aux = item.get("aux")
                if isinstance(aux, dict) and "ID" in aux:
                    image_id = str(aux["ID"])
        except BuildFailed:
            raise
        except docker.errors.BuildError as exc:
            raise BuildFailed(str(exc), log_tail="\n".join(tail)) from None
        except Exception as exc:  # noqa: BLE001
            error = _docker_boundary(f"build {ref}")(exc)
            error.log_tail = "\n".join(tail)
            raise error from None
        if not image_id:
            raise BuildFailed("the build reported no image id", log_tail="\n".join(tail))
        return image_id

    def push(self, ref: ImageRef, auth: RegistryAuth | None) -> set[str]:
        """Push `ref`; returns the short ids of the layers sent."""
        try:
            progress = self.docker.api.push(
                ref.name, tag=ref.tag, stream=True, decode=True, auth_config=auth.docker() if auth else None
            )
            pushed, error = pushed_layer_ids(progress)
        except Exception as exc:  # noqa: BLE001
            raise _docker_boundary(f"push {ref}")(exc) from None
        if error is not None:
            lowered = error.lower()
            if "denied" in lowered or "unauthorized" in lowered or "authentication required" in lowered:
                raise TerminalImageError("denied", f"push {ref}: {error}")
            raise RetriableImageError("registry_error", f"push {ref}: {error}")
        return pushed

    def _layer_ids(self, image: str) -> list[str]:
        layers = self.docker.images.get(image).attrs.get("RootFS", {}).get("Layers", [])
        return [str(diff_id) for diff_id in layers]

    # -- the whole step ------------------------------------------------------------------------

    def build_and_push(
        self, parent: str, context: BuildContext, ref: ImageRef, auth: RegistryAuth | None
    ) -> BuildResult:
        """Make sure `ref` exists in the registry, building it FROM `parent` if needed."""
        found = self.find(ref, auth)
        if found is not None:
            log.info("image %s already in the registry (%s): not built", ref, found.digest)
            return BuildResult(ref=str(ref), digest=found.digest, built=False)
        self.ensure_local(parent, auth)
        started = self.clock()
        self.build(context, ref)
        built_at = self.clock()
        pushed = self.push(ref, auth)
        pushed_at = self.clock()
        manifest = self.find(ref, auth)
        if manifest is None:
            raise RetriableImageError("registry_error", f"pushed {ref} but the registry does not show it")
        layers = self._layer_ids(str(ref))
        parent_layers = set(self._layer_ids(parent))
        sent = sum(
            blob.size
            for diff_id, blob in zip(layers, manifest.layers, strict=False)
            if diff_id.removeprefix("sha256:")[:12] in pushed
        )
        new = sum(
            blob.size
            for diff_id, blob in zip(layers, manifest.layers, strict=False)
            if diff_id not in parent_layers
        )
        return BuildResult(
            ref=str(ref),
            digest=manifest.digest,
            built=True,
            build_seconds=built_at - started,
            push_seconds=pushed_at - built_at,
            pushed_bytes=sent + (manifest.config_size if pushed else 0),
            new_layer_bytes=new,
        )

    def remove_local(self, image: str) -> None:
        """Untag a local image (tests and benches clean up after themselves)."""
        try:
            self.docker.images.remove(image, noprune=False)
        except docker.errors.ImageNotFound:
            pass
