"""Settings of the stream-processor processes (`hopsharbor worker | reconcile | replay`).

One frozen object per process, read from the environment (prefix HOPSHARBOR_) by the CLI handler
and passed down; nothing reads the environment anywhere else. Secrets come from
HOPSHARBOR_HARBOR_PASSWORD or a file named by HOPSHARBOR_HARBOR_PASSWORD_FILE, never a flag.
Structured values (role map, robots, service accounts) are JSON in their variables, e.g.
HOPSHARBOR_ROLE_MAP='{"Data owner": 4, "Data scientist": 2, "Under removal": null}'.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.desired.model import RobotState
from streams.mapping.config import (
    DEFAULT_ROBOTS,
    DEFAULT_ROLE_MAP,
    DEFAULT_SERVICE_ACCOUNTS,
    INACTIVE_STATUSES,
    MappingConfig,
    UsernameSource,
)
from streams.mapping.events import CDC_TABLES

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOPSHARBOR_", frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = "hopsworks"  # CDC topics are <topic_prefix>.<database>.<table>
    database: str = "hopsworks"
    state_topic: str = "hopsharbor.state"
    dlq_topic: str = "hopsharbor.dlq"
    app_id: str = "hopsharbor-worker"  # Faust application id = consumer group
    topic_partitions: int = Field(default=1, ge=1)  # state topic and table changelogs
    topic_replication: int = Field(default=1, ge=1)

    # Worker
    store: str = "memory://"  # Faust table store; tables are rebuilt from their changelogs on start
    data_dir: Path = Path(".hopsharbor-worker")
    parallelism: int = Field(default=8, ge=1)  # keys reconciled at once
    reconcile_enabled: bool = True  # False: derive and publish the desired state only (Harbor untouched)
    resync_interval: float = Field(default=600.0, ge=0)  # seconds between full resyncs; 0 = off
    resync_on_start: bool = True  # reconcile every key once the tables are recovered
    retry_initial: float = Field(default=0.5, gt=0)  # per-key backoff on RetriableError
    retry_max: float = Field(default=60.0, gt=0)
    retry_in_place: int = Field(default=3, ge=1)  # attempts before a key is retried in the background
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9402
    lag_interval: float = Field(default=5.0, gt=0)

    # Harbor
    harbor_url: str = "http://127.0.0.1:18080"
    harbor_user: str = "admin"
    harbor_password: SecretStr | None = None
    harbor_password_file: Path | None = None
    harbor_timeout: float = 10.0
    harbor_retries: int = 3
    owner_account: str | None = None  # Harbor account whose projects are ours; default harbor_user
    adopted_projects: frozenset[str] = frozenset()
    robot_secrets_dir: Path = Path("robot-secrets")
    delete_users: bool = False
    # Seconds the reconciler trusts what it last observed and wrote for a key, so an event costs
    # about its writes only (0 = observe Harbor on every reconcile). Resyncs always observe afresh.
    cache_ttl: float = 300.0

    # Mapping (see streams.mapping.config)
    role_map: dict[str, int | None] = Field(default_factory=lambda: dict(DEFAULT_ROLE_MAP))
    owner_role: int = 1
    inactive_statuses: frozenset[int] = INACTIVE_STATUSES
    username_source: UsernameSource = UsernameSource.USERNAME
    project_prefix: str = ""
    default_quota: int = -1
    robots: tuple[RobotState, ...] = DEFAULT_ROBOTS
    service_accounts: dict[str, str | None] = Field(default_factory=lambda: dict(DEFAULT_SERVICE_ACCOUNTS))
    db_auth: bool = True

    def cdc_topic(self, table: str) -> str:
        return f"{self.topic_prefix}.{self.database}.{table}"

    def cdc_topics(self) -> dict[str, str]:
        """table -> topic, for the tables the mapping follows."""
        return {table: self.cdc_topic(table) for table in CDC_TABLES}

    def harbor_secret(self) -> str:
        """The Harbor password: the variable, else the file; raises ValueError when neither is set."""
        if self.harbor_password is not None:
            return self.harbor_password.get_secret_value()
        if self.harbor_password_file is not None:
            return self.harbor_password_file.read_text().strip()
        raise ValueError("set HOPSHARBOR_HARBOR_PASSWORD or HOPSHARBOR_HARBOR_PASSWORD_FILE")

    def mapping_config(self) -> MappingConfig:
        return MappingConfig(
            role_map=self.role_map,
            owner_role=self.owner_role,
            inactive_statuses=self.inactive_statuses,
            username_source=self.username_source,
            project_prefix=self.project_prefix,
            default_quota=self.default_quota,
            robots=self.robots,
            service_accounts=self.service_accounts,
            db_auth=self.db_auth,
        )
