"""A small client of the registry HTTP API v2 (Docker distribution; Harbor's /v2/ front).

Called by the builder, in its worker thread: before a build to see whether the command's tag is
already there (replays build nothing), and after a push to read the manifest (digest, compressed
layer sizes: the bytes really sent). Speaks the token flow every registry uses (401 with
`WWW-Authenticate: Bearer realm=…` -> GET realm with basic auth -> bearer token) and plain
basic auth. httpx errors are translated here: connection/timeout/5xx -> RetriableImageError
("registry_unreachable"/"registry_error"), 401/403 -> TerminalImageError("denied").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx

from streams.images.errors import RetriableImageError, TerminalImageError

__all__ = ["RegistryAuth", "Layer", "Manifest", "RegistryClient", "MANIFEST_TYPES"]

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class RegistryAuth:
    username: str
    password: str = field(repr=False)

    def docker(self) -> dict[str, str]:
        """The auth_config the docker SDK takes for push and pull."""
        return {"username": self.username, "password": self.password}


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int  # compressed, as stored and sent


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    config_size: int
    layers: tuple[Layer, ...]

    @property
    def size(self) -> int:
        return self.config_size + sum(layer.size for layer in self.layers)


class RegistryClient:
    """Registry v2 API at `base_url` (e.g. http://127.0.0.1:18080). Thread-confined; close() it."""

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None, timeout: float = 30.0):
        self._client = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self, method: str, url: str, headers: dict[str, str], auth: RegistryAuth | None
    ) -> httpx.Response:
        try:
            response = self._client.request(method, url, headers=headers)
            if response.status_code == 401 and auth is not None:
                challenge = response.headers.get("www-authenticate", "")
                if challenge.lower().startswith("bearer"):
                    token = self._token(challenge, auth)
                    response = self._client.request(
                        method, url, headers={**headers, "Authorization": f"Bearer {token}"}
                    )
                else:
                    response = self._client.request(
                        method, url, headers=headers, auth=httpx.BasicAuth(auth.username, auth.password)
                    )
        except httpx.TimeoutException as exc:
            raise RetriableImageError("timeout", f"registry {method} {url}: {exc}") from None
        except httpx.TransportError as exc:
            raise RetriableImageError("registry_unreachable", f"registry {method} {url}: {exc}") from None
        if response.status_code in (401, 403):
            raise TerminalImageError("denied", f"registry {method} {url}: HTTP {response.status_code}")
        if response.status_code >= 500 or response.status_code == 429:
            raise RetriableImageError(
                "registry_error", f"registry {method} {url}: HTTP {response.status_code}"
            )
        return response

    def _token(self, challenge: str, auth: RegistryAuth) -> str:
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise TerminalImageError("denied", f"registry challenge without a realm: {challenge!r}")
        response = self._client.get(realm, params=params, auth=httpx.BasicAuth(auth.username, auth.password))
        if response.status_code in (401, 403):
            raise TerminalImageError(
                "denied", f"registry token for {auth.username}: HTTP {response.status_code}"
            )
        if response.status_code != 200:
            raise RetriableImageError("registry_error", f"registry token: HTTP {response.status_code}")
        doc = response.json()
        return str(doc.get("token") or doc.get("access_token") or "")

    def manifest(self, repository: str, reference: str, auth: RegistryAuth | None = None) -> Manifest | None:
        """The manifest of `<repository>:<reference>` (repository = `<project>/<path>`), None if absent."""
        response = self._send(
            "GET", f"/v2/{repository}/manifests/{reference}", {"Accept": ", ".join(MANIFEST_TYPES)}, auth
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RetriableImageError(
                "registry_error", f"manifest {repository}:{reference}: HTTP {response.status_code}"
            )
        doc = response.json()
        digest = response.headers.get("docker-content-digest", "")
        layers = tuple(Layer(str(x.get("digest", "")), int(x.get("size", 0))) for x in doc.get("layers", []))
        config = doc.get("config") or {}
        return Manifest(
            digest=digest,
            media_type=str(doc.get("mediaType", response.headers.get("content-type", ""))),
            config_size=int(config.get("size", 0)),
            layers=layers,
        )
