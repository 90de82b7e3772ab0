"""How MySQL column values are written in change events (shared by the snapshot and the binlog decoder).

Both sources must write the same value for the same stored datum, or a snapshot row and a later
streamed row of the same key would differ for no reason. The representations follow the Debezium
MySQL connector's JSON output with `decimal.handling.mode=string` (exact, no float rounding):

| MySQL type            | in the event                                                  |
|-----------------------|---------------------------------------------------------------|
| integers, YEAR        | JSON number                                                   |
| FLOAT, DOUBLE         | JSON number                                                   |
| DECIMAL               | string, exactly as stored (`"12.50"`)                         |
| CHAR/VARCHAR/TEXT     | string (latin1 is MySQL's cp1252 + the 5 undefined bytes)     |
| BINARY/VARBINARY/BLOB | base64 string                                                 |
| JSON                  | string holding the JSON document                              |
| TIMESTAMP(n)          | ISO-8601 UTC string with n fraction digits: `2024-05-01T10:00:00.120Z` |
| DATETIME(n)           | epoch milliseconds (n <= 3) or microseconds (n > 3), as if UTC |
| DATE                  | days since 1970-01-01                                         |
| TIME(n)               | microseconds                                                  |
| ENUM / SET            | string / comma-separated string                               |
| NULL                  | null                                                          |
"""

from __future__ import annotations

import base64
import codecs
import datetime as dt
from decimal import Decimal

__all__ = [
    "LATIN1_ERRORS",
    "decode_text",
    "format_timestamp",
    "datetime_to_epoch",
    "date_to_days",
    "timedelta_to_micros",
    "decimal_to_str",
    "bytes_to_b64",
]

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)

LATIN1_ERRORS = "hopsharbor-latin1"


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    # MySQL's latin1 is cp1252 except that the 5 bytes cp1252 leaves undefined (0x81, 0x8D, 0x8F,
    # 0x90, 0x9D) map to the C1 control characters of the same code: that is what the server's
    # own conversion to utf8mb4 (the snapshot path) produces.
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(b) for b in bad), exc.end


codecs.register_error(LATIN1_ERRORS, _latin1_fallback)


def decode_text(raw: bytes, encoding: str) -> str:
    """Bytes of a text column in its character set -> str (called by the binlog decoder)."""
    if encoding == "cp1252":
        return raw.decode("cp1252", LATIN1_ERRORS)
    return raw.decode(encoding)


def format_timestamp(value: dt.datetime, fsp: int) -> str:
    """A naive UTC datetime of a TIMESTAMP(fsp) column -> `YYYY-MM-DDTHH:MM:SS[.f{fsp}]Z`."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if fsp:
        text += "." + f"{value.microsecond:06d}"[:fsp]
    return text + "Z"


def datetime_to_epoch(value: dt.datetime, fsp: int) -> int:
    """DATETIME(fsp) -> epoch milliseconds (fsp <= 3) or microseconds (fsp > 3), as if UTC."""
    delta = value - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros if fsp > 3 else micros // 1000


def date_to_days(value: dt.date) -> int:
    return (value - _EPOCH_DATE).days


def timedelta_to_micros(value: dt.timedelta) -> int:
    return (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds


def decimal_to_str(value: Decimal) -> str:
    return str(value)


def bytes_to_b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
