"""The connector's configuration: one frozen object per process, read by the CLI handler.

Every field can be set from the environment with the prefix HOPSHARBOR_ (e.g.
HOPSHARBOR_MYSQL_HOST, HOPSHARBOR_TABLES=users,project). The MySQL password comes from
HOPSHARBOR_MYSQL_PASSWORD or from the file named by HOPSHARBOR_MYSQL_PASSWORD_FILE — never from a
command-line flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["ConnectorSettings", "SnapshotMode", "DEFAULT_TABLES"]

SnapshotMode = Literal["initial", "when_needed", "never", "always"]
DEFAULT_TABLES = ("users", "project", "project_team", "conda_commands", "python_environment")


class ConnectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOPSHARBOR_", frozen=True, extra="ignore")

    # Source
    mysql_host: str = "127.0.0.1"
    mysql_port: int = 13306
    mysql_user: str = "hopsharbor_cdc"
    mysql_password: SecretStr | None = None
    mysql_password_file: Path | None = None
    database: str = "hopsworks"
    tables: Annotated[tuple[str, ...], NoDecode] = DEFAULT_TABLES
    server_id: int = Field(5401, description="replica server id used for the binlog dump; unique per reader")
    use_gtid: bool = True

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = "hopsworks"
    connector_name: str = "hopsworks"
    offsets_topic: str | None = None  # default: <topic_prefix>.connector-offsets
    topic_partitions: int = 1
    topic_replication: int = 1
    linger_ms: int = 20
    batch_size: int = 512 * 1024
    compression: str = "auto"  # auto = lz4 if installed, else none

    # Behaviour
    snapshot_mode: SnapshotMode = "initial"
    snapshot_fetch_rows: int = 2000
    checkpoint_interval_s: float = 1.0
    heartbeat_interval_s: float = 5.0
    mysql_heartbeat_s: float = 1.0
    lease_wait_s: float = 0.0  # 0: refuse at once when another instance holds the lease
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0

    # Observability
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9401  # 0 disables the HTTP endpoint

    @field_validator("tables", mode="before")
    @classmethod
    def _split_tables(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return value

    @property
    def offsets_topic_name(self) -> str:
        return self.offsets_topic or f"{self.topic_prefix}.connector-offsets"

    @property
    def heartbeat_topic(self) -> str:
        return f"__hopsharbor-heartbeat.{self.topic_prefix}"

    def topic_for(self, table: str) -> str:
        return f"{self.topic_prefix}.{self.database}.{table}"

    def password(self) -> str:
        """The capture user's password, from the environment or the password file."""
        if self.mysql_password is not None:
            return self.mysql_password.get_secret_value()
        if self.mysql_password_file is not None:
            return self.mysql_password_file.read_text().strip()
        raise ValueError("set HOPSHARBOR_MYSQL_PASSWORD or HOPSHARBOR_MYSQL_PASSWORD_FILE")
