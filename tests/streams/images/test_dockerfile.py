"""Dockerfile generation per library op (what Hopsworks writes: FROM current + one step)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from streams.images.commands import CondaCommand
from streams.images.config import ImageConfig
from streams.images.dockerfile import context_tar, render_build
from streams.images.errors import TerminalImageError

pytestmark = pytest.mark.unit

PARENT = "127.0.0.1:18080/demo/demo:1-4.0.0.1"


def command(**extra: object) -> CondaCommand:
    fields: dict[str, object] = {
        "id": 5,
        "project_id": 7,
        "op": "INSTALL",
        "status": "ONGOING",
        "lib": "requests",
        "version": "2.31.0",
        "install_type": "PIP",
    }
    return CondaCommand.model_validate({**fields, **extra})


def lines(dockerfile: str) -> list[str]:
    return dockerfile.strip().splitlines()


def test_pip_install() -> None:
    ctx = render_build(PARENT, "demo", command(), ImageConfig())
    assert lines(ctx.dockerfile)[:2] == [f"FROM {PARENT}", "RUN pip install --upgrade requests==2.31.0"]
    assert lines(ctx.dockerfile)[2].startswith("LABEL org.hopsharbor.command=5 ")
    assert ctx.files == {}


def test_pip_uninstall_and_no_version() -> None:
    ctx = render_build(PARENT, "demo", command(op="UNINSTALL", version=None), ImageConfig())
    assert lines(ctx.dockerfile)[1] == "RUN pip uninstall -y requests"
    ctx = render_build(PARENT, "demo", command(version=None), ImageConfig())
    assert lines(ctx.dockerfile)[1] == "RUN pip install --upgrade requests"


def test_local_wheels_are_copied_and_pip_args_passed(tmp_path: Path) -> None:
    cfg = ImageConfig(wheel_dir=tmp_path, pip_args="--no-index --find-links /wheels")
    ctx = render_build(PARENT, "demo", command(), cfg)
    assert lines(ctx.dockerfile)[1:3] == [
        "COPY wheels /wheels",
        "RUN pip install --upgrade --no-index --find-links /wheels requests==2.31.0",
    ]
    assert ctx.files == {"wheels": tmp_path}


def test_conda_variants_only_when_the_base_has_conda() -> None:
    conda = command(install_type="CONDA", channel_url="conda-forge", lib="numpy", version="1.26.4")
    with_conda = render_build(PARENT, "demo", conda, ImageConfig(conda=True))
    assert (
        lines(with_conda.dockerfile)[1]
        == "RUN conda install -y -c conda-forge numpy=1.26.4 && conda clean -afy"
    )
    removed = render_build(
        PARENT, "demo", command(op="UNINSTALL", install_type="CONDA"), ImageConfig(conda=True)
    )
    assert lines(removed.dockerfile)[1] == "RUN conda remove -y requests"
    without = render_build(PARENT, "demo", conda, ImageConfig(conda=False))
    assert lines(without.dockerfile)[1] == "RUN pip install --upgrade numpy==1.26.4"


def test_create_is_the_base_itself() -> None:
    ctx = render_build(
        "hopsharbor/python-base:bookworm", "demo", command(op="CREATE", lib=None), ImageConfig()
    )
    assert lines(ctx.dockerfile)[0] == "FROM hopsharbor/python-base:bookworm"
    assert len(lines(ctx.dockerfile)) == 2 and lines(ctx.dockerfile)[1].startswith("LABEL ")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"lib": "requests; rm -rf /"}, "bad_command"),
        ({"version": "1.0 && curl x"}, "bad_command"),
        ({"lib": None}, "bad_command"),
        ({"install_type": "WHEEL"}, "unsupported_op"),
        ({"op": "EXPORT"}, "unsupported_op"),
    ],
)
def test_unsafe_or_unsupported_commands_are_terminal(extra: dict[str, object], reason: str) -> None:
    with pytest.raises(TerminalImageError) as info:
        render_build(PARENT, "demo", command(**extra), ImageConfig())
    assert info.value.reason == reason


def test_context_tar_holds_dockerfile_and_wheels(tmp_path: Path) -> None:
    (tmp_path / "x-1.0-py3-none-any.whl").write_bytes(b"wheel")
    ctx = render_build(PARENT, "demo", command(), ImageConfig(wheel_dir=tmp_path))
    with tarfile.open(fileobj=io.BytesIO(context_tar(ctx).read())) as tar:
        names = set(tar.getnames())
        dockerfile = tar.extractfile("Dockerfile")
        assert dockerfile is not None and dockerfile.read().decode() == ctx.dockerfile
    assert {"Dockerfile", "wheels", "wheels/x-1.0-py3-none-any.whl"} <= names
