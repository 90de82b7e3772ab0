"""The binlog connector: MySQL/MariaDB row changes to Debezium-style change events on Kafka."""
