"""Refuse to start against a server whose binlog cannot give complete change events.

Called by the task before anything else, with the server's global variables. Without ROW format
there are no row images; without FULL row images updates and deletes lack columns; without FULL
row metadata the binlog has no column names (they arrive as UNKNOWN_COL0...) and we would need a
schema-history topic, which this connector deliberately does without.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.errors import ServerConfigError

__all__ = ["REQUIRED", "check_server_variables", "read_server_variables"]

REQUIRED = {
    "log_bin": "ON",
    "binlog_format": "ROW",
    "binlog_row_image": "FULL",
    "binlog_row_metadata": "FULL",
}


def check_server_variables(variables: Mapping[str, Any]) -> None:
    """Raise ServerConfigError naming every setting to change (all of them at once)."""
    wrong = []
    for name, wanted in REQUIRED.items():
        actual = variables.get(name)
        actual_text = "unset (server too old?)" if actual is None else str(actual).upper()
        if actual is None or str(actual).upper() != wanted:
            wrong.append(f"{name} is {actual_text}, needs {wanted}")
    if variables.get("log_bin_compress", "OFF").upper() == "ON":
        wrong.append("log_bin_compress is ON, needs OFF (compressed row events are not decoded)")
    if wrong:
        raise ServerConfigError(
            "the MySQL/MariaDB server cannot be captured: "
            + "; ".join(wrong)
            + ". Set them in the server's [mysqld] configuration (e.g. binlog_format=ROW, "
            "binlog_row_image=FULL, binlog_row_metadata=FULL) and restart it, or SET GLOBAL them "
            "and start new sessions."
        )


def read_server_variables(conn: Any) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
            "('log_bin','binlog_format','binlog_row_image','binlog_row_metadata','log_bin_compress',"
            "'gtid_mode','server_id','version')"
        )
        return {str(k).lower(): str(v) for k, v in cur.fetchall()}
