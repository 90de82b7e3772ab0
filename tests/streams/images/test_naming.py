"""Tag scheme: a pure function of (project, command, config); replays compute the same name."""

from __future__ import annotations

import pytest

from streams.images.commands import CondaCommand
from streams.images.config import ImageConfig
from streams.images.errors import TerminalImageError
from streams.images.naming import image_ref, split_ref

pytestmark = pytest.mark.unit


def command(**extra: object) -> CondaCommand:
    fields: dict[str, object] = {
        "id": 42,
        "project_id": 7,
        "op": "INSTALL",
        "status": "ONGOING",
        "lib": "NumPy",
        "version": "1.26.4+cpu",
        "created": 1700000000123,
    }
    return CondaCommand.model_validate({**fields, **extra})


def config(**extra: object) -> ImageConfig:
    return ImageConfig.model_validate({"registry": "127.0.0.1:18080", **extra})


def test_default_mirrors_hopsworks_names() -> None:
    ref = image_ref("demo", command(), config(hopsworks_version="4.0.0"))
    assert str(ref) == "127.0.0.1:18080/demo/demo:1700000000123-4.0.0.42"
    assert ref.path == "demo/demo"
    assert ref.name == "127.0.0.1:18080/demo/demo"


def test_same_command_same_name_other_command_other_name() -> None:
    cfg = config()
    assert image_ref("demo", command(), cfg) == image_ref("demo", command(), cfg)
    assert image_ref("demo", command(id=43), cfg) != image_ref("demo", command(), cfg)


def test_templates_are_configuration_and_tags_are_sanitised() -> None:
    cfg = config(repository_template="env/{project}", tag_template="{command_id}-{op}-{lib}-{version}")
    ref = image_ref("demo", command(), cfg)
    assert (ref.repository, ref.tag) == ("env/demo", "42-install-numpy-1.26.4_cpu")


@pytest.mark.parametrize(
    "extra",
    [{"tag_template": "{nope}"}, {"repository_template": "Bad Repo"}, {"tag_template": "-{command_id}"}],
)
def test_bad_templates_are_terminal(extra: dict[str, str]) -> None:
    with pytest.raises(TerminalImageError) as info:
        image_ref("demo", command(), config(**extra))
    assert info.value.reason == "bad_name"


def test_split_ref_handles_registry_ports() -> None:
    assert split_ref("127.0.0.1:15000/a/b:t1") == ("127.0.0.1:15000/a/b", "t1")
    assert split_ref("127.0.0.1:15000/a/b") == ("127.0.0.1:15000/a/b", "latest")
