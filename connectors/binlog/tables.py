"""Table maps, parsed once per signature, and the row decoders compiled from them.

Why this module exists: the server writes a TABLE_MAP event before *every* rows event, and
python-mysql-replication parses it in full each time (columns, optional metadata, charsets, a
Table object built from per-column dicts) — most of its ~3,000 rows/s. A TABLE_MAP's body is
byte-identical for as long as the table keeps its id and definition, so `TableMapCache` keys on
the body bytes: a hit costs one dict lookup; a miss (first sight, or a DDL, which changes the
column metadata and usually the table id) is parsed by the library and compiled into a
`TableInfo` with one small decoder function per column. Tables that are not captured get a
TableInfo without decoders, and their rows events are never decoded at all.

Column types the fast decoders do not know (BIT, GEOMETRY, TIME, MySQL binary JSON, pre-5.6
temporal types) make the whole table fall back to the library's row decoding, converted to the
same JSON values (connectors.values).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pymysql.protocol import MysqlPacket
from pymysqlreplication.constants import FIELD_TYPE
from pymysqlreplication.packet import BinLogPacketWrapper
from pymysqlreplication.row_event import (
    DeleteRowsEvent as LibDeleteRows,
)
from pymysqlreplication.row_event import (
    TableMapEvent as LibTableMap,
)
from pymysqlreplication.row_event import (
    UpdateRowsEvent as LibUpdateRows,
)
from pymysqlreplication.row_event import (
    WriteRowsEvent as LibWriteRows,
)

from connectors import values as V

__all__ = ["TableInfo", "TableMapCache", "UnsupportedColumn", "library_value_to_json"]

Decoder = Callable[[bytes, int], tuple[Any, int]]
RowDecoder = Callable[[bytes, int], tuple[dict[str, Any], int]]

_EPOCH = dt.datetime(1970, 1, 1)


class UnsupportedColumn(Exception):
    """Raised while compiling: this column needs the library's decoder."""


@dataclass(eq=False)
class TableInfo:
    """What the connector knows about one table id, from its TABLE_MAP event."""

    table_id: int
    schema: str
    table: str
    captured: bool
    columns: tuple[str, ...] = ()
    column_types: tuple[int, ...] = ()
    primary_key: tuple[str, ...] = ()
    decode_row: RowDecoder | None = None  # None: use the library (fallback) for this table
    lib_table: Any = None  # pymysqlreplication.table.Table, for the fallback
    lib_columns: list[Any] = field(default_factory=list)


class _CtlStub:
    """What the library's event classes want from their control connection when column names come
    from the binlog (binlog_row_metadata=FULL): a charset and the server flavour, no queries."""

    def __init__(self, dbms: str) -> None:
        self.charset = "utf8mb4"
        self._dbms = dbms

    def _get_dbms(self) -> str:
        return self._dbms


def _lib_wrapper(
    pkt: MysqlPacket, table_map: dict[int, Any], ctl: _CtlStub, use_checksum: bool, allowed: frozenset[type]
) -> Any:
    return BinLogPacketWrapper(
        pkt,
        table_map,
        ctl,
        (0, 0, 0),
        use_checksum,
        allowed,
        None,
        None,
        None,
        None,
        False,
        False,
        False,
        True,
        False,
        False,
        None,
    )


class TableMapCache:
    """Maps TABLE_MAP bodies to TableInfo and table ids to the TableInfo of their latest map.

    Owned by one BinlogReader; `captured(schema, table)` decides which tables get decoders.
    """

    def __init__(self, captured: Callable[[str, str], bool], dbms: str, use_checksum: bool) -> None:
        self._captured = captured
        self._ctl = _CtlStub(dbms)
        self._use_checksum = use_checksum
        self.by_body: dict[bytes, TableInfo] = {}
        self.by_id: dict[int, TableInfo] = {}
        self.parsed = 0  # how many TABLE_MAPs were parsed in full (cache misses of captured tables)

    def on_table_map(self, data: bytes, end: int) -> TableInfo:
        """Called by the reader for each TABLE_MAP packet (`data` = packet incl. the OK byte)."""
        body = data[20:end]
        info = self.by_body.get(body)
        if info is None:
            info = self._parse(data, body)
            if len(self.by_body) > 4096:  # DDL-heavy streams: bound the memory
                self.by_body.clear()
            self.by_body[body] = info
        self.by_id[info.table_id] = info
        return info

    def _parse(self, data: bytes, body: bytes) -> TableInfo:
        table_id = int.from_bytes(body[0:6], "little")
        p = 8
        n = body[p]
        schema = body[p + 1 : p + 1 + n].decode()
        p += 2 + n
        n = body[p]
        table = body[p + 1 : p + 1 + n].decode()
        if not self._captured(schema, table):
            return TableInfo(table_id, schema, table, captured=False)
        wrapper = _lib_wrapper(
            MysqlPacket(data, "utf8"), {}, self._ctl, self._use_checksum, frozenset([LibTableMap])
        )
        lib_event = wrapper.event
        lib_table = lib_event.get_table()
        columns = list(lib_event.columns)
        names = tuple(c.name for c in columns)
        pk = tuple(names[i] for i in lib_event.optional_metadata.simple_primary_key_list)
        self.parsed += 1
        try:
            decode_row: RowDecoder | None = _compile_row(names, [_compile_column(c) for c in columns])
        except UnsupportedColumn:
            decode_row = None
        return TableInfo(
            table_id,
            schema,
            table,
            True,
            names,
            tuple(c.type for c in columns),
            pk,
            decode_row,
            lib_table,
            columns,
        )

    def decode_with_library(self, data: bytes, info: TableInfo, op: str) -> list[Any]:
        """Fallback: let python-mysql-replication decode a rows event of `info`'s table."""
        cls = {"c": LibWriteRows, "u": LibUpdateRows, "d": LibDeleteRows}[op]
        wrapper = _lib_wrapper(
            MysqlPacket(data, "utf8"),
            {info.table_id: info.lib_table},
            self._ctl,
            self._use_checksum,
            frozenset([LibWriteRows, LibUpdateRows, LibDeleteRows]),
        )
        event = wrapper.event
        assert isinstance(event, cls), f"expected {cls.__name__}, got {type(event).__name__}"
        convert = _library_row_converter(info)
        if op == "u":
            return [(convert(r["before_values"]), convert(r["after_values"])) for r in event.rows]
        return [convert(r["values"]) for r in event.rows]


# ---------------------------------------------------------------------------------------------
# Row decoders (binlog row image -> dict of JSON-ready values)


def _compile_row(names: tuple[str, ...], decoders: list[Decoder]) -> RowDecoder:
    nb = (len(names) + 7) >> 3
    pairs = tuple(zip(names, decoders, strict=True))

    def decode_row(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
        nulls = int.from_bytes(data[pos : pos + nb], "little")
        pos += nb
        row: dict[str, Any] = {}
        bit = 1
        for name, dec in pairs:
            if nulls & bit:
                row[name] = None
            else:
                row[name], pos = dec(data, pos)
            bit <<= 1
        return row, pos

    return decode_row


def _fixed(fmt: str) -> Decoder:
    s = struct.Struct(fmt)
    size = s.size
    unpack = s.unpack_from

    def dec(data: bytes, pos: int) -> tuple[Any, int]:
        return unpack(data, pos)[0], pos + size

    return dec


def _int_le(size: int, signed: bool) -> Decoder:
    def dec(data: bytes, pos: int) -> tuple[Any, int]:
        end = pos + size
        return int.from_bytes(data[pos:end], "little", signed=signed), end

    return dec


def _string(length_bytes: int, encoding: str | None) -> Decoder:
    binary = encoding is None or encoding == "binary"
    if length_bytes == 1:

        def read(data: bytes, pos: int) -> tuple[bytes, int]:
            start = pos + 1
            end = start + data[pos]
            return data[start:end], end
    else:

        def read(data: bytes, pos: int) -> tuple[bytes, int]:
            start = pos + length_bytes
            end = start + int.from_bytes(data[pos:start], "little")
            return data[start:end], end

    if binary:

        def dec(data: bytes, pos: int) -> tuple[Any, int]:
            raw, end = read(data, pos)
            return V.bytes_to_b64(raw), end
    elif encoding == "cp1252":

        def dec(data: bytes, pos: int) -> tuple[Any, int]:
            raw, end = read(data, pos)
            return raw.decode("cp1252", V.LATIN1_ERRORS), end
    else:
        assert encoding is not None
        codec = encoding

        def dec(data: bytes, pos: int) -> tuple[Any, int]:
            raw, end = read(data, pos)
            return raw.decode(codec), end

    return dec


def _fsp_bytes(fsp: int) -> int:
    return (fsp + 1) // 2


def _fraction(data: bytes, pos: int, nbytes: int) -> int:
    """Microseconds from the big-endian fractional part of a TIMESTAMP2/DATETIME2."""
    if not nbytes:
        return 0
    return int.from_bytes(data[pos : pos + nbytes], "big") * (10 ** (6 - 2 * nbytes))


def _timestamp2(fsp: int) -> Decoder:
    nfrac = _fsp_bytes(fsp)
    # last second seen and its text: consecutive rows mostly share the second
    cache: dict[str, Any] = {"seconds": -1, "text": ""}

    def dec(data: bytes, pos: int) -> tuple[Any, int]:
        seconds = int.from_bytes(data[pos : pos + 4], "big")
        micros = _fraction(data, pos + 4, nfrac)
        if seconds == 0 and micros == 0:
            return None, pos + 4 + nfrac  # the zero timestamp '0000-00-00 00:00:00'
        if cache["seconds"] != seconds:
            cache["seconds"] = seconds
            t = time.gmtime(seconds)
            cache["text"] = f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}:{t[5]:02d}"
        text: str = cache["text"]
        if fsp:
            return f"{text}.{micros:06d}"[: 20 + fsp] + "Z", pos + 4 + nfrac
        return text + "Z", pos + 4 + nfrac

    return dec


def _datetime2(fsp: int) -> Decoder:
    nfrac = _fsp_bytes(fsp)

    def dec(data: bytes, pos: int) -> tuple[Any, int]:
        v = int.from_bytes(data[pos : pos + 5], "big")
        micros = _fraction(data, pos + 5, nfrac)
        end = pos + 5 + nfrac
        ym = (v >> 22) & 0x1FFFF
        try:
            value = dt.datetime(
                ym // 13, ym % 13, (v >> 17) & 0x1F, (v >> 12) & 0x1F, (v >> 6) & 0x3F, v & 0x3F, micros
            )
        except ValueError:  # zero dates
            return None, end
        return V.datetime_to_epoch(value, fsp), end

    return dec


def _date(data: bytes, pos: int) -> tuple[Any, int]:
    v = int.from_bytes(data[pos : pos + 3], "little")
    try:
        return V.date_to_days(dt.date(v >> 9, (v >> 5) & 0xF, v & 0x1F)), pos + 3
    except ValueError:
        return None, pos + 3


def _year(data: bytes, pos: int) -> tuple[Any, int]:
    v = data[pos]
    return (v + 1900 if v else 0), pos + 1


_DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)


def _newdecimal(precision: int, scale: int) -> Decoder:
    integral = precision - scale
    uncomp_int, comp_int = divmod(integral, 9)
    uncomp_frac, comp_frac = divmod(scale, 9)
    size = uncomp_int * 4 + _DIG2BYTES[comp_int] + uncomp_frac * 4 + _DIG2BYTES[comp_frac]

    def dec(data: bytes, pos: int) -> tuple[Any, int]:
        raw = bytearray(data[pos : pos + size])
        negative = not (raw[0] & 0x80)
        raw[0] ^= 0x80
        if negative:
            raw = bytearray(b ^ 0xFF for b in raw)
        p = 0
        parts: list[str] = []
        n = _DIG2BYTES[comp_int]
        if n:
            parts.append(str(int.from_bytes(raw[p : p + n], "big")))
            p += n
        for _ in range(uncomp_int):
            parts.append(f"{int.from_bytes(raw[p : p + 4], 'big'):09d}")
            p += 4
        text = "".join(parts) or "0"
        if scale:
            frac: list[str] = []
            for _ in range(uncomp_frac):
                frac.append(f"{int.from_bytes(raw[p : p + 4], 'big'):09d}")
                p += 4
            n = _DIG2BYTES[comp_frac]
            if n:
                frac.append(f"{int.from_bytes(raw[p : p + n], 'big'):0{comp_frac}d}")
            text += "." + "".join(frac)
        return V.decimal_to_str(Decimal(("-" if negative else "") + text)), pos + size

    return dec


def _enum(size: int, values: list[str]) -> Decoder:
    def dec(data: bytes, pos: int) -> tuple[Any, int]:
        index = int.from_bytes(data[pos : pos + size], "little")
        return (values[index] if index < len(values) else ""), pos + size

    return dec


def _set(size: int, values: list[str]) -> Decoder:
    def dec(data: bytes, pos: int) -> tuple[Any, int]:
        mask = int.from_bytes(data[pos : pos + size], "little")
        return ",".join(v for i, v in enumerate(values) if mask >> i & 1), pos + size

    return dec


def _compile_column(col: Any) -> Decoder:
    t = col.type
    unsigned = bool(col.unsigned)
    if t == FIELD_TYPE.TINY:
        return _fixed("<B" if unsigned else "<b")
    if t == FIELD_TYPE.SHORT:
        return _fixed("<H" if unsigned else "<h")
    if t == FIELD_TYPE.INT24:
        return _int_le(3, not unsigned)
    if t == FIELD_TYPE.LONG:
        return _fixed("<I" if unsigned else "<i")
    if t == FIELD_TYPE.LONGLONG:
        return _fixed("<Q" if unsigned else "<q")
    if t == FIELD_TYPE.FLOAT:
        return _fixed("<f")
    if t == FIELD_TYPE.DOUBLE:
        return _fixed("<d")
    if t in (FIELD_TYPE.VARCHAR, FIELD_TYPE.STRING, FIELD_TYPE.VAR_STRING):
        return _string(2 if col.max_length > 255 else 1, col.character_set_name)
    if t == FIELD_TYPE.BLOB:
        return _string(col.length_size, col.character_set_name)
    if t == FIELD_TYPE.NEWDECIMAL:
        return _newdecimal(col.precision, col.decimals)
    if t == FIELD_TYPE.TIMESTAMP2:
        return _timestamp2(col.fsp)
    if t == FIELD_TYPE.DATETIME2:
        return _datetime2(col.fsp)
    if t == FIELD_TYPE.DATE:
        return _date
    if t == FIELD_TYPE.YEAR:
        return _year
    if t == FIELD_TYPE.ENUM and col.enum_values:
        return _enum(col.size, list(col.enum_values))
    if t == FIELD_TYPE.SET and col.set_values:
        return _set(col.size, list(col.set_values))
    raise UnsupportedColumn(f"column {col.name} type {t}")


# ---------------------------------------------------------------------------------------------
# Fallback: library values -> the same JSON values


def library_value_to_json(value: Any, column_type: int, fsp: int = 0) -> Any:
    """Convert one value decoded by python-mysql-replication to the connector's JSON form."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if column_type in (FIELD_TYPE.TIMESTAMP2, FIELD_TYPE.TIMESTAMP):
            return V.format_timestamp(value, fsp)
        return V.datetime_to_epoch(value, fsp)
    if isinstance(value, dt.date):
        return V.date_to_days(value)
    if isinstance(value, dt.timedelta):
        return V.timedelta_to_micros(value)
    if isinstance(value, Decimal):
        return V.decimal_to_str(value)
    if isinstance(value, bytes):
        return V.bytes_to_b64(value)
    if isinstance(value, set):
        return ",".join(sorted(value))
    if column_type == FIELD_TYPE.BIT and isinstance(value, str):
        return int(value, 2) if value else 0
    if column_type == FIELD_TYPE.JSON:
        return json.dumps(_json_safe(value), separators=(",", ":"), ensure_ascii=False)
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _library_row_converter(info: TableInfo) -> Callable[[dict[str, Any]], dict[str, Any]]:
    specs: Iterable[tuple[str, int, int]] = [
        (c.name, c.type, getattr(c, "fsp", 0) or 0) for c in info.lib_columns
    ]
    specs = list(specs)

    def convert(values: dict[str, Any]) -> dict[str, Any]:
        return {name: library_value_to_json(values.get(name), t, fsp) for name, t, fsp in specs}

    return convert
