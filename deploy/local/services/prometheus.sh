#!/usr/bin/env bash
# Prometheus from Debian (`prometheus`), scraping the hopsharbor processes: the connector at
# 127.0.0.1:$CONNECTOR_METRICS_PORT (job hopsharbor-connector), the stream worker at
# 127.0.0.1:$WORKER_METRICS_PORT (job hopsharbor-worker), and itself. Listens on
# 127.0.0.1:$PROMETHEUS_PORT, data under .stack/prometheus/data (2 days), config rendered from
# deploy/local/prometheus/prometheus.yml.in. --web.enable-lifecycle: `$0 reload` (or POST
# /-/reload) applies a changed config or new rule files without a restart; `start` on a running
# server re-renders the config and reloads.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
NAME=prometheus
DIR="$STACK_DIR/prometheus"
CONF="$DIR/prometheus.yml"
LOGF="$STACK_DIR/logs/prometheus.log"
URL="http://127.0.0.1:$PROMETHEUS_PORT"

ready() { curl -sf -o /dev/null --max-time 2 "$URL/-/ready"; }

write_conf() {
  mkdir -p "$DIR/data"
  sed -e "s|@REPO_DIR@|$REPO_DIR|g" -e "s|@PROMETHEUS_PORT@|$PROMETHEUS_PORT|g" \
      -e "s|@CONNECTOR_METRICS_PORT@|$CONNECTOR_METRICS_PORT|g" \
      -e "s|@WORKER_METRICS_PORT@|$WORKER_METRICS_PORT|g" \
      "$LOCAL_DIR/prometheus/prometheus.yml.in" > "$CONF.new"
  # Refuse a broken config (or rule file) here, with promtool's reason, not in the server's log.
  promtool check config "$CONF.new" >"$STACK_DIR/logs/promtool.log" 2>&1 \
    || fail_with_log $NAME "$STACK_DIR/logs/promtool.log" "invalid config or rules"
  mv "$CONF.new" "$CONF"
}

reload() {
  curl -sf -X POST --max-time 10 "$URL/-/reload" >/dev/null \
    || fail_with_log $NAME "$LOGF" "reload refused (see the log)"
}

case "${1:-}" in
  install)
    apt_install prometheus curl
    ;;
  start)
    write_conf
    if pid_alive $NAME && ready; then reload; exit 0; fi
    stop_pid $NAME
    port_open "$PROMETHEUS_PORT" && die "127.0.0.1:$PROMETHEUS_PORT is taken by another process (not our Prometheus)"
    start_bg $NAME "$LOGF" prometheus \
      --config.file="$CONF" \
      --storage.tsdb.path="$DIR/data" \
      --storage.tsdb.retention.time=2d \
      --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
      --web.enable-lifecycle
    wait_until $NAME "$LOGF" 60 ready
    ;;
  reload)
    pid_alive $NAME || die "prometheus is not running"
    write_conf; reload
    ;;
  stop)
    stop_pid $NAME
    ;;
  status)
    if pid_alive $NAME && ready; then echo "up $URL (pid $(cat "$STACK_DIR/run/$NAME.pid"))"; else echo down; exit 1; fi
    ;;
  logfile) echo "$LOGF" ;;
  *) echo "usage: $0 install|start|reload|stop|status|logfile" >&2; exit 2 ;;
esac
