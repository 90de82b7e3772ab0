"""DirectorySecretStore and generate_secret."""

from __future__ import annotations

import stat

import pytest

from streams.secrets import DirectorySecretStore, SecretStore, generate_secret

pytestmark = pytest.mark.unit


def test_round_trip_modes_and_delete(tmp_path):
    store = DirectorySecretStore(tmp_path / "robots")
    assert isinstance(store, SecretStore)
    assert store.get("demo+pull") is None
    store.put("demo+pull", "Abc123xyz")
    store.put("demo+pull", "Def456uvw")  # replaced, not appended
    assert store.get("demo+pull") == "Def456uvw"
    assert stat.S_IMODE((tmp_path / "robots").stat().st_mode) == 0o700
    files = list((tmp_path / "robots").iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    store.delete("demo+pull")
    store.delete("demo+pull")
    assert store.get("demo+pull") is None


def test_names_cannot_escape_the_directory(tmp_path):
    store = DirectorySecretStore(tmp_path / "s")
    store.put("../../etc/passwd", "Abc123xyz")
    assert [p.parent for p in (tmp_path / "s").iterdir()] == [tmp_path / "s"]
    assert store.get("../../etc/passwd") == "Abc123xyz"
    with pytest.raises(ValueError):
        store.put("", "x")


@pytest.mark.parametrize("length", [8, 32, 128, 4, 500])
def test_generated_secrets_satisfy_harbor(length):
    for _ in range(50):
        secret = generate_secret(length)
        assert 8 <= len(secret) <= 128
        assert any(c.isupper() for c in secret) and any(c.islower() for c in secret)
        assert any(c.isdigit() for c in secret)
