from __future__ import annotations

import io

import pytest

from streams.app import create_app
from streams.app.progress import ProgressBar
from streams.settings import Settings
from tests.streams.app.fakes import FakeReconciler

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_bar_prints_every_tenth_when_not_a_terminal() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(20, stream=out, width=10, clock=clock)
    for i in range(20):
        clock.now += 0.5
        bar(f"project/p{i}", "done" if i % 5 else "requeue")
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 11  # 0 %, 10 %, ..., 100 %
    assert lines[-1] == "[##########] 20/20 keys  2.0/s  (done 16, requeue 4)"


def test_table_partition_follows_the_key(tmp_path) -> None:
    for partitions in (1, 4):
        settings = Settings(
            app_id=f"hopsharbor-unit-p{partitions}", data_dir=tmp_path, topic_partitions=partitions
        )
        tables = create_app(settings, FakeReconciler()).tables
        chosen = {tables.memberships.partition_for_key(f"user{i}@x") for i in range(50)}
        assert chosen <= set(range(partitions)) and (len(chosen) == partitions)
        # the same key always lands in the same partition, whatever table writes it
        assert tables.users.partition_for_key("a@b") == tables.memberships.partition_for_key("a@b")
