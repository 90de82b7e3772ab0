"""The Kafka side: one idempotent producer for change events, tombstones, heartbeats and offsets,
plus topic creation. Kafka client errors are translated here (connectors.errors.classify).

Producer backend: librdkafka (confluent-kafka) when installed — kafka-python's send() costs
~200 us of Python per record and capped the connector at ~4,000 events/s; librdkafka's produce()
is a C call and sustains ~85,000/s acknowledged on these machines. kafka-python stays the
fallback backend and is used for topic administration and for reading the offsets topic.

Ordering: a single producer with enable_idempotence keeps per-partition order across retries, and
offsets go through the same producer *after* `flush()` returned, so an offset never becomes
visible before the events it covers were acknowledged (acks=all).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from connectors.errors import RetriableError, classify

__all__ = ["KafkaSink", "SinkConfig"]

log = logging.getLogger(__name__)


class SinkConfig:
    def __init__(
        self,
        bootstrap: str,
        linger_ms: int = 20,
        batch_size: int = 512 * 1024,
        compression: str = "auto",
        partitions: int = 1,
        replication: int = 1,
        client_id: str = "hopsharbor-connector",
    ) -> None:
        self.bootstrap = bootstrap
        self.linger_ms = linger_ms
        self.batch_size = batch_size
        self.compression = compression
        self.partitions = partitions
        self.replication = replication
        self.client_id = client_id

    def compression_type(self) -> str | None:
        if self.compression == "auto":
            try:
                import lz4  # noqa: F401
            except ImportError:
                return None
            return "lz4"
        return None if self.compression in ("none", "") else self.compression


class KafkaSink:
    """Created by the task once per (re)start; `close()` flushes what is left.

    `send()` never blocks on the network (unless the producer buffer is full); failures of earlier
    sends surface in the next `flush()` or `raise_if_failed()` as RetriableError, after which the
    task restarts from the last stored offset.
    """

    def __init__(
        self,
        config: SinkConfig,
        producer_factory: Callable[[], Any] | None = None,
        admin_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self._producer_factory = producer_factory or self._default_producer
        self._admin_factory = admin_factory or self._default_admin
        self._producer: Any = None
        self._known_topics: set[str] = set()
        self._failure: BaseException | None = None
        self.sent = 0

    def _default_producer(self) -> Any:
        try:
            import confluent_kafka  # noqa: F401
        except ImportError:
            return self._kafka_python_producer()
        return _LibrdkafkaProducer(self.config, self._on_error)

    def _kafka_python_producer(self) -> Any:
        from kafka import KafkaProducer

        return KafkaProducer(
            bootstrap_servers=self.config.bootstrap,
            client_id=self.config.client_id,
            acks="all",
            enable_idempotence=True,
            max_in_flight_requests_per_connection=5,
            linger_ms=self.config.linger_ms,
            batch_size=self.config.batch_size,
            compression_type=self.config.compression_type(),
            max_request_size=8 * 1024 * 1024,
            delivery_timeout_ms=120_000,
            request_timeout_ms=30_000,
            metrics_enabled=False,  # kafka-python's per-record sensors cost more than the encoding
            allow_auto_create_topics=False,
        )

    def _default_admin(self) -> Any:
        from kafka.admin import KafkaAdminClient

        return KafkaAdminClient(bootstrap_servers=self.config.bootstrap, client_id=self.config.client_id)

    @property
    def producer(self) -> Any:
        if self._producer is None:
            try:
                self._producer = self._producer_factory()
            except Exception as exc:  # translate at the boundary
                raise classify(exc) from exc
        return self._producer

    def ensure_topics(self, names: Iterable[str], compact: bool = False) -> None:
        """Create the topics that do not exist yet (idempotent; cached per sink)."""
        missing = [n for n in names if n not in self._known_topics]
        if not missing:
            return
        from kafka.admin import NewTopic
        from kafka.errors import TopicAlreadyExistsError

        configs = {"cleanup.policy": "compact"} if compact else {}
        try:
            admin = self._admin_factory()
        except Exception as exc:
            raise classify(exc) from exc
        try:
            existing = set(admin.list_topics())
            new = [
                NewTopic(
                    n,
                    self.config.partitions if not compact else 1,
                    self.config.replication,
                    topic_configs=dict(configs),
                )
                for n in missing
                if n not in existing
            ]
            if new:
                try:
                    admin.create_topics(new, timeout_ms=30_000)
                except TopicAlreadyExistsError:
                    pass
                except Exception as exc:
                    # Several topics at once: some may exist already (created concurrently).
                    if "TopicAlreadyExists" not in repr(exc):
                        raise classify(exc) from exc
        finally:
            admin.close()
        self._known_topics.update(missing)

    def _on_error(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc

    def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        try:
            future = self.producer.send(topic, key=key, value=value)
        except Exception as exc:
            raise classify(exc) from exc
        if future is not None:
            future.add_errback(self._on_error)
        self.sent += 1

    def raise_if_failed(self) -> None:
        if self._failure is not None:
            exc, self._failure = self._failure, None
            err = classify(exc)
            raise RetriableError(f"a produce request failed: {err}", "kafka") from exc

    def flush(self, timeout_s: float | None = 60.0) -> None:
        """Wait until every record sent so far is acknowledged (or failed)."""
        if self._producer is None:
            return
        try:
            self._producer.flush(timeout=timeout_s)
        except Exception as exc:
            raise classify(exc) from exc
        self.raise_if_failed()

    def close(self, timeout_s: float = 10.0) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=timeout_s)
            except Exception as exc:  # noqa: BLE001 - closing after a failure: log and go on
                log.warning("closing the Kafka producer failed: %r", exc)


class _LibrdkafkaProducer:
    """confluent-kafka's Producer behind kafka-python's send/flush/close calls.

    Delivery reports only for failures (`delivery.report.only.error`): success costs no Python.
    A full local queue (BufferError) is waited out by serving the producer (poll).
    """

    def __init__(self, config: SinkConfig, on_error: Callable[[BaseException], None]) -> None:
        from confluent_kafka import Producer

        self._on_error = on_error
        # "auto": lz4 only if Python consumers (kafka-python, aiokafka in the stream processor) can
        # read it, i.e. the lz4 module is installed; on one host uncompressed costs nothing anyway.
        compression = config.compression_type()
        self._producer = Producer(
            {
                "bootstrap.servers": config.bootstrap,
                "client.id": config.client_id,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": config.linger_ms,
                "batch.size": max(config.batch_size, 16384),
                "compression.type": compression or "none",
                "queue.buffering.max.kbytes": 32768,  # bounds memory (RSS target <= 150 MB)
                "message.max.bytes": 8 * 1024 * 1024,
                "message.timeout.ms": 120_000,
                "delivery.report.only.error": True,
                "on_delivery": self._delivered,
                "error_cb": self._error,
            }
        )
        self._produce = self._producer.produce
        self._count = 0

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._on_error(_KafkaDeliveryError(str(err), retriable=True))

    def _error(self, err: Any) -> None:
        # Brokers down etc. are reported here and retried by librdkafka itself; only fatal errors
        # (e.g. the idempotent producer fenced or out of sequence) must stop the task.
        if err.fatal():
            self._on_error(_KafkaDeliveryError(f"fatal producer error: {err}", retriable=False))

    def send(self, topic: str, key: bytes | None = None, value: bytes | None = None) -> None:
        while True:
            try:
                self._produce(topic, value, key)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._count += 1
        if self._count & 0x3FF == 0:
            self._producer.poll(0)
        return None

    def flush(self, timeout: float | None = None) -> None:
        remaining = self._producer.flush(-1 if timeout is None else timeout)
        if remaining:
            self._on_error(
                _KafkaDeliveryError(f"{remaining} records not acknowledged in {timeout}s", retriable=True)
            )

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)


class _KafkaDeliveryError(Exception):
    def __init__(self, message: str, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable
