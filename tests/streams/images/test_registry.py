"""Registry v2 client: token flow, absent tags, and errors translated at the boundary."""

from __future__ import annotations

import httpx
import pytest

from streams.images.errors import RetriableImageError, TerminalImageError
from streams.images.registry import RegistryAuth, RegistryClient

pytestmark = pytest.mark.unit

MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"size": 1500, "digest": "sha256:c"},
    "layers": [{"size": 97000000, "digest": "sha256:a"}, {"size": 112, "digest": "sha256:b"}],
}


def harbor_like(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/service/token":
        if request.headers.get("authorization") != httpx.BasicAuth("robot$demo+push", "S3cret")._auth_header:
            return httpx.Response(401)
        assert request.url.params["scope"] == "repository:demo/demo:pull"
        return httpx.Response(200, json={"token": "T"})
    if request.headers.get("authorization") != "Bearer T":
        challenge = 'Bearer realm="http://h/service/token",service="harbor-registry",scope="repository:demo/demo:pull"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})
    if request.url.path == "/v2/demo/demo/manifests/1":
        return httpx.Response(200, json=MANIFEST, headers={"Docker-Content-Digest": "sha256:m"})
    return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})


def test_manifest_through_the_token_flow() -> None:
    with RegistryClient("http://h", transport=httpx.MockTransport(harbor_like)) as client:
        auth = RegistryAuth("robot$demo+push", "S3cret")
        manifest = client.manifest("demo/demo", "1", auth)
        assert manifest is not None
        assert manifest.digest == "sha256:m"
        assert [layer.size for layer in manifest.layers] == [97000000, 112]
        assert manifest.size == 97000000 + 112 + 1500
        assert client.manifest("demo/demo", "2", auth) is None


def test_wrong_secret_is_denied_and_secret_not_in_repr() -> None:
    auth = RegistryAuth("robot$demo+push", "wrong")
    assert "wrong" not in repr(auth)
    with RegistryClient("http://h", transport=httpx.MockTransport(harbor_like)) as client:
        with pytest.raises(TerminalImageError) as info:
            client.manifest("demo/demo", "1", auth)
    assert info.value.reason == "denied"


def test_server_errors_and_unreachable_are_retriable() -> None:
    with RegistryClient("http://h", transport=httpx.MockTransport(lambda r: httpx.Response(503))) as client:
        with pytest.raises(RetriableImageError) as info:
            client.manifest("demo/demo", "1")
    assert info.value.reason == "registry_error"

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with RegistryClient("http://h", transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(RetriableImageError) as info:
            client.manifest("demo/demo", "1")
    assert info.value.reason == "registry_unreachable"
