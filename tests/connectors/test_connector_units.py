"""Small units: server check, error classification, offsets, settings, GTID positions, checkpoint."""

from __future__ import annotations

import pymysql
import pytest
from pydantic import ValidationError

from connectors.checkpoint import Checkpointer
from connectors.context import MariaDBGtidPosition, OffsetContext
from connectors.dispatcher import EventDispatcher
from connectors.errors import (
    FatalError,
    OffsetsError,
    PositionPurgedError,
    RetriableError,
    ServerConfigError,
    classify,
)
from connectors.offsets import SourceOffset
from connectors.server_check import check_server_variables
from connectors.settings import ConnectorSettings
from connectors.task import EXIT_CONFIG, ConnectorTask

from .fakes import MemoryStore, RecordingSink

pytestmark = pytest.mark.unit

GOOD = {"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}


def test_good_server_settings_pass() -> None:
    check_server_variables(GOOD)


@pytest.mark.parametrize(
    "name, value",
    [
        ("binlog_format", "MIXED"),
        ("binlog_row_image", "MINIMAL"),
        ("binlog_row_metadata", "MINIMAL"),
        ("log_bin", "OFF"),
    ],
)
def test_wrong_server_settings_are_refused_with_what_to_change(name: str, value: str) -> None:
    with pytest.raises(ServerConfigError) as info:
        check_server_variables({**GOOD, name: value})
    assert f"{name} is {value}, needs {GOOD[name]}" in str(info.value)


def test_missing_row_metadata_variable_means_too_old_server() -> None:
    variables = {k: v for k, v in GOOD.items() if k != "binlog_row_metadata"}
    with pytest.raises(ServerConfigError, match="binlog_row_metadata is unset"):
        check_server_variables(variables)


class _Conn:
    def __init__(self, variables: dict[str, str]) -> None:
        self.variables = variables

    def cursor(self) -> _Conn:
        return self

    def __enter__(self) -> _Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, sql: str, args: object = None) -> None:
        pass

    def fetchall(self) -> list[tuple[str, str]]:
        return list(self.variables.items())

    def close(self) -> None:
        pass


def test_task_refuses_to_start_on_wrong_settings_before_touching_kafka() -> None:
    def no_sink() -> None:
        raise AssertionError("must not reach Kafka")

    task = ConnectorTask(
        ConnectorSettings(mysql_password="x", metrics_port=0),
        connect_mysql=lambda: _Conn({**GOOD, "binlog_row_image": "MINIMAL"}),
        sink_factory=no_sink,
    )  # type: ignore[arg-type]
    assert task.run() == EXIT_CONFIG


def test_classify_mysql_errors() -> None:
    assert isinstance(classify(pymysql.err.OperationalError(2013, "lost")), RetriableError)
    assert isinstance(classify(pymysql.err.OperationalError(1236, "purged")), PositionPurgedError)
    assert isinstance(classify(pymysql.err.OperationalError(1045, "denied")), FatalError)
    assert isinstance(classify(ConnectionResetError()), RetriableError)


def test_classify_kafka_errors() -> None:
    from kafka.errors import KafkaConfigurationError, KafkaConnectionError, KafkaTimeoutError

    assert classify(KafkaConnectionError()).retriable
    assert classify(KafkaTimeoutError()).retriable
    assert not classify(KafkaConfigurationError()).retriable


def test_offset_json_round_trip_and_unknown_fields_kept() -> None:
    offset = SourceOffset(
        file="binlog.000002",
        pos=77,
        gtids="0-1-5",
        event=2,
        row=3,
        snapshot="running",
        snapshot_table="users",
        snapshot_key=[7],
    )
    assert SourceOffset.from_json(offset.to_json()) == offset
    newer = {**offset.to_json(), "future_field": 1}
    assert SourceOffset.from_json(newer).extra == {"future_field": 1}
    with pytest.raises(OffsetsError):
        SourceOffset.from_json({**offset.to_json(), "snapshot": "bogus"})


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("HOPSHARBOR_TABLES", "users, project")
    monkeypatch.setenv("HOPSHARBOR_MYSQL_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("HOPSHARBOR_TOPIC_PREFIX", "x")
    s = ConnectorSettings()
    assert s.tables == ("users", "project")
    assert s.password() == "s3cret"
    assert s.topic_for("users") == "x.hopsworks.users"
    assert s.offsets_topic_name == "x.connector-offsets"
    with pytest.raises(ValidationError):
        s.database = "other"  # type: ignore[misc]  # frozen


def test_mariadb_gtid_position_keeps_one_gtid_per_domain() -> None:
    position = MariaDBGtidPosition("0-1-5,1-2-9")
    position.add("0-1-6")
    position.add("2-3-1")
    assert str(position) == "0-1-6,1-2-9,2-3-1"


def test_offset_context_commit_moves_past_the_transaction() -> None:
    ctx = OffsetContext(SourceOffset(file="f.1", pos=4, gtids="0-1-5"), is_mariadb=True)
    ctx.begin("f.1", 100, "0-1-6", 0, 1)
    ctx.event, ctx.row = 2, 1
    mid = ctx.offset(0)
    assert (mid.pos, mid.gtids, mid.event, mid.row) == (100, "0-1-5", 2, 1)
    ctx.commit("f.1", 500)
    end = ctx.offset(0)
    assert (end.pos, end.gtids, end.event, end.row) == (500, "0-1-6", 0, 0)


def test_checkpoint_does_not_store_when_the_flush_fails_or_the_lease_is_lost() -> None:
    sink = RecordingSink()
    store = MemoryStore()
    dispatcher = EventDispatcher(sink, "p", "db", "n")

    class LostLease:
        def check(self) -> None:
            raise RetriableError("the lease was lost", "lease")

    with pytest.raises(RetriableError):
        Checkpointer(sink, store, LostLease(), dispatcher).commit(SourceOffset(pos=1))
    sink.fail_flush = RetriableError("broker gone", "kafka")
    with pytest.raises(RetriableError):
        Checkpointer(sink, store, None, dispatcher).commit(SourceOffset(pos=2))
    assert store.stored == []
