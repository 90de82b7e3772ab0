#!/usr/bin/env bash
# Apache Kafka (KRaft, single node: broker + controller) from the Maven Central jars resolved by
# deploy/local/kafka/pom.xml into $CACHE_DIR/kafka/<version>/libs — no tarball, no other broker.
# Replication factors 1, transactions usable, log cleaner on. Data under .stack/kafka.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
NAME=kafka
LIBS="$CACHE_DIR/kafka/$KAFKA_VERSION/libs"
DATA="$STACK_DIR/kafka/data"
PROPS="$STACK_DIR/kafka/server.properties"
LOGF="$STACK_DIR/logs/kafka.log"

JAVA=(java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$LOCAL_DIR/kafka/log4j2.yaml" -Dkafka.logs.dir="$STACK_DIR/logs"
  -cp "$LIBS/*")

broker_answers() {
  # A metadata request through the broker's own client classes would need a JVM start (slow);
  # the controller and broker ports both accepting connections, and the log saying the broker
  # is RUNNING, is enough.
  port_open "$KAFKA_PORT" && grep -q 'Transition from STARTING to STARTED\|Kafka Server started' "$LOGF"
}

case "${1:-}" in
  install)
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    command -v mvn >/dev/null || apt_install maven
    if [[ ! -f "$LIBS/.complete" ]]; then
      log "resolving Kafka $KAFKA_VERSION jars (Maven)"
      mkdir -p "$LIBS"
      mvn -q -B -f "$LOCAL_DIR/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" \
        >"$STACK_DIR/logs/kafka-mvn.log" 2>&1 || fail_with_log $NAME "$STACK_DIR/logs/kafka-mvn.log" "mvn could not resolve Kafka"
      touch "$LIBS/.complete"
    fi
    ;;
  start)
    pid_alive $NAME && exit 0
    mkdir -p "$DATA"
    sed -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" -e "s|@DATA@|$DATA|g" \
      "$LOCAL_DIR/kafka/server.properties.in" > "$PROPS"
    if [[ ! -f "$DATA/meta.properties" ]]; then
      cluster_id=$("${JAVA[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
      "${JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" -g \
        >"$STACK_DIR/logs/kafka-format.log" 2>&1 || fail_with_log $NAME "$STACK_DIR/logs/kafka-format.log" "storage format failed"
    fi
    # A fresh log per start, so the readiness check below reads this start's lines only.
    mv -f "$LOGF" "$LOGF.prev" 2>/dev/null || true
    start_bg $NAME "$LOGF" "${JAVA[@]}" kafka.Kafka "$PROPS"
    wait_until $NAME "$LOGF" 90 broker_answers
    ;;
  stop)
    stop_pid $NAME
    ;;
  status)
    if pid_alive $NAME && port_open "$KAFKA_PORT"; then echo "up 127.0.0.1:$KAFKA_PORT (Kafka $KAFKA_VERSION, KRaft)"; else echo down; exit 1; fi
    ;;
  logfile) echo "$LOGF" ;;
  *) echo "usage: $0 install|start|stop|status|logfile" >&2; exit 2 ;;
esac
