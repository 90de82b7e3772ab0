"""The binlog connector: MySQL/MariaDB row changes to Debezium-style change events on Kafka.

Where things are (one role per module, as the Debezium MySQL connector):

- task.py          lifecycle: server check, lease, snapshot-or-stream decision, retries, SIGTERM
- snapshot.py      consistent initial snapshot (op "r"), resumable by primary key
- streaming.py     binlog events -> change events (HANDLERS by event class), restart skipping
- context.py       the moving position (GTID position/set, file/pos, event/row counters)
- offsets.py       SourceOffset (the stored value object) and OffsetStore (compacted topic)
- checkpoint.py    flush -> lease check -> store offset, in that order
- dispatcher.py    Debezium envelope, key, topic, tombstones
- kafka_sink.py    idempotent producer (librdkafka, kafka-python fallback), topic creation
- lease.py         one reader per source (MySQL GET_LOCK)
- errors.py        exception tree and classify(): retriable vs fatal, in one place
- server_check.py  binlog_format/row_image/row_metadata must be ROW/FULL/FULL
- binlog/          fast binlog reader: packets, cached table maps, compiled row decoders
- values.py        how column values are written (shared by snapshot and binlog decoding)
- settings.py      ConnectorSettings (HOPSHARBOR_* environment)
- metrics.py       Prometheus metric declarations; http.py serves /metrics and /healthz
- cli.py           `hopsharbor connector run | offsets show|set|reset`
"""
