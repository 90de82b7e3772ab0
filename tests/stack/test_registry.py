"""The plain registry of the local stack stores blobs and deletes them (distribution API v2)."""

from __future__ import annotations

import hashlib
import os
import uuid
from urllib.parse import urljoin

import httpx
import pytest

from tests.conftest import Stack

pytestmark = pytest.mark.integration

CHUNK = 1 << 20


def _upload_chunked(client: httpx.Client, repo: str, data: bytes, digest: str) -> httpx.Response:
    """POST to open an upload, PATCH each chunk to the Location the registry hands back, PUT to close."""
    resp = client.post(f"/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202, resp.text
    location = urljoin(str(client.base_url), resp.headers["Location"])
    for start in range(0, len(data), CHUNK):
        chunk = data[start:start + CHUNK]
        resp = client.patch(location, content=chunk, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{start}-{start + len(chunk) - 1}",
        })
        assert resp.status_code == 202, resp.text
        assert resp.headers["Range"] == f"0-{start + len(chunk) - 1}"
        location = urljoin(str(client.base_url), resp.headers["Location"])
    # The Location carries the signed `_state` query: httpx's params= would replace it, so the
    # digest is appended to the URL by hand.
    assert "_state=" in location
    return client.put(f"{location}&digest={digest}")


def _upload_monolithic(client: httpx.Client, repo: str, data: bytes, digest: str) -> httpx.Response:
    """POST to open an upload, then one PUT with the digest and the whole blob (distribution 2.8
    ignores a body sent with the POST itself)."""
    resp = client.post(f"/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202, resp.text
    location = urljoin(str(client.base_url), resp.headers["Location"])
    return client.put(f"{location}&digest={digest}", content=data,
                      headers={"Content-Type": "application/octet-stream"})


@pytest.mark.parametrize("upload", [_upload_chunked, _upload_monolithic], ids=["chunked", "monolithic"])
def test_blob_pushed_read_back_and_deleted(stack: Stack, upload) -> None:
    stack.require("registry")
    repo = f"smoke/{uuid.uuid4().hex[:10]}"
    data = os.urandom(2 * CHUNK + 12345)  # three chunks, the last one short
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port('registry')}", timeout=30) as client:
        resp = upload(client, repo, data, digest)
        assert resp.status_code == 201, resp.text
        assert resp.headers["Docker-Content-Digest"] == digest

        head = client.head(f"/v2/{repo}/blobs/{digest}")
        assert head.status_code == 200
        assert int(head.headers["Content-Length"]) == len(data)
        got = client.get(f"/v2/{repo}/blobs/{digest}", follow_redirects=True)
        assert got.status_code == 200
        assert got.content == data

        deleted = client.delete(f"/v2/{repo}/blobs/{digest}")
        assert deleted.status_code == 202, deleted.text  # 405 would mean deletes are disabled
        assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
        assert client.get(f"/v2/{repo}/blobs/{digest}").status_code == 404
