"""Row-value decoders (connectors.binlog.tables) and value formats (connectors.values)."""

from __future__ import annotations

import datetime as dt
import struct
from types import SimpleNamespace

import pytest
from pymysqlreplication.constants import FIELD_TYPE

from connectors import values as V
from connectors.binlog.tables import (
    UnsupportedColumn,
    _compile_column,
    _compile_row,
    library_value_to_json,
)
from connectors.snapshot import snapshot_converter

pytestmark = pytest.mark.unit


def col(type_: int, **kw: object) -> SimpleNamespace:
    base = dict(
        type=type_,
        name="c",
        unsigned=False,
        character_set_name=None,
        max_length=0,
        length_size=0,
        fsp=0,
        precision=0,
        decimals=0,
        size=1,
        enum_values=None,
        set_values=None,
    )
    base.update(kw)
    return SimpleNamespace(**base)


def decode(column: SimpleNamespace, data: bytes) -> object:
    value, end = _compile_column(column)(data, 0)
    assert end == len(data), "decoder must consume exactly the value's bytes"
    return value


@pytest.mark.parametrize(
    "raw, expected",
    [
        (bytes([0x80, 0x7B, 0x2D]), "123.45"),
        (bytes([0x7F, 0x84, 0xD2]), "-123.45"),
        (bytes([0x80, 0x00, 0x05]), "0.05"),
    ],
)
def test_decimal_5_2_is_exact(raw: bytes, expected: str) -> None:
    assert decode(col(FIELD_TYPE.NEWDECIMAL, precision=5, decimals=2), raw) == expected


def test_decimal_with_full_9_digit_groups() -> None:
    # DECIMAL(18,9): 9 integral digits in 4 bytes, 9 fraction digits in 4 bytes
    raw = bytearray(struct.pack(">I", 123456789) + struct.pack(">I", 500))
    raw[0] |= 0x80
    assert decode(col(FIELD_TYPE.NEWDECIMAL, precision=18, decimals=9), bytes(raw)) == "123456789.000000500"


def test_timestamp2_with_millis_is_iso_utc() -> None:
    seconds = int(dt.datetime(2024, 5, 1, 10, 20, 30, tzinfo=dt.UTC).timestamp())
    raw = struct.pack(">I", seconds) + struct.pack(">H", 1200)  # .120 in units of 1/10000 s
    assert decode(col(FIELD_TYPE.TIMESTAMP2, fsp=3), raw) == "2024-05-01T10:20:30.120Z"


def test_zero_timestamp_is_null() -> None:
    assert decode(col(FIELD_TYPE.TIMESTAMP2, fsp=0), b"\0\0\0\0") is None


def test_datetime2_is_epoch_millis_or_micros() -> None:
    ym = 2024 * 13 + 5
    packed = (1 << 39) | ym << 22 | 1 << 17 | 10 << 12 | 20 << 6 | 30
    raw = packed.to_bytes(5, "big")
    expected_ms = int(dt.datetime(2024, 5, 1, 10, 20, 30, tzinfo=dt.UTC).timestamp() * 1000)
    assert decode(col(FIELD_TYPE.DATETIME2, fsp=0), raw) == expected_ms
    micro = raw + (123456).to_bytes(3, "big")
    assert decode(col(FIELD_TYPE.DATETIME2, fsp=6), micro) == expected_ms * 1000 + 123456


def test_latin1_text_is_mysql_latin1() -> None:
    text = "Åsa Öberg €"
    raw = text.encode("cp1252")
    assert (
        decode(col(FIELD_TYPE.VARCHAR, max_length=150, character_set_name="cp1252"), bytes([len(raw)]) + raw)
        == text
    )
    # bytes cp1252 leaves undefined decode like the server's own latin1 -> utf8 conversion
    assert decode(col(FIELD_TYPE.VARCHAR, max_length=10, character_set_name="cp1252"), b"\x01\x81") == "\x81"


def test_utf8mb4_text_and_long_varchar_length_prefix() -> None:
    text = "emoji 😀 ünïcode"
    raw = text.encode()
    column = col(FIELD_TYPE.VARCHAR, max_length=1200, character_set_name="utf8")
    assert decode(column, struct.pack("<H", len(raw)) + raw) == text


def test_binary_blob_is_base64() -> None:
    assert (
        decode(col(FIELD_TYPE.BLOB, length_size=2, character_set_name="binary"), b"\x03\x00\x00\xff\x10")
        == "AP8Q"
    )


def test_integers_signed_and_unsigned() -> None:
    assert decode(col(FIELD_TYPE.LONG), struct.pack("<i", -7)) == -7
    assert decode(col(FIELD_TYPE.LONG, unsigned=True), struct.pack("<I", 4_000_000_000)) == 4_000_000_000
    assert decode(col(FIELD_TYPE.INT24), (-5 & 0xFFFFFF).to_bytes(3, "little")) == -5
    assert decode(col(FIELD_TYPE.TINY), b"\xff") == -1


def test_row_decoder_null_bitmap() -> None:
    decoders = [_compile_column(col(FIELD_TYPE.LONG)), _compile_column(col(FIELD_TYPE.LONG))]
    row, end = _compile_row(("a", "b"), decoders)(b"\x02" + struct.pack("<i", 5), 0)
    assert row == {"a": 5, "b": None} and end == 5


def test_unknown_types_fall_back_to_the_library() -> None:
    with pytest.raises(UnsupportedColumn):
        _compile_column(col(FIELD_TYPE.BIT))


def test_snapshot_and_binlog_paths_write_the_same_values() -> None:
    ts = dt.datetime(2024, 5, 1, 10, 20, 30, 120000)
    assert snapshot_converter("timestamp", 3)(ts) == library_value_to_json(ts, FIELD_TYPE.TIMESTAMP2, 3)
    assert snapshot_converter("datetime", 6)(ts) == library_value_to_json(ts, FIELD_TYPE.DATETIME2, 6)
    assert V.format_timestamp(ts, 0) == "2024-05-01T10:20:30Z"
