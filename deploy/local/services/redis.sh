#!/usr/bin/env bash
# Redis from Debian for Harbor: 127.0.0.1:$REDIS_PORT, data (RDB snapshots) in .stack/redis.
# Harbor core uses db 0 (_REDIS_URL_CORE), Harbor's registry db 1 (layer info cache,
# _REDIS_URL_REG). No password: it listens on loopback only, like every server of the stack.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
NAME=redis
DATA="$STACK_DIR/redis"
CONF="$STACK_DIR/redis.conf"
LOGF="$STACK_DIR/logs/redis.log"

cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

case "${1:-}" in
  install)
    apt_install redis-server redis-tools
    ;;
  start)
    pid_alive $NAME && exit 0
    mkdir -p "$DATA"
    cat > "$CONF" <<CONF
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize no
supervised no
dir $DATA
dbfilename dump.rdb
save 60 1000
appendonly no
databases 16
logfile ""
CONF
    start_bg $NAME "$LOGF" redis-server "$CONF"
    wait_until $NAME "$LOGF" 30 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT ping)\" = PONG ]"
    ;;
  stop)
    if pid_alive $NAME; then cli shutdown >/dev/null 2>&1 || true; fi
    stop_pid $NAME
    ;;
  status)
    if pid_alive $NAME && v=$(cli info server 2>/dev/null | tr -d '\r' | sed -n 's/^redis_version://p') && [[ -n "$v" ]]; then
      echo "$v"
    else echo down; exit 1; fi
    ;;
  logfile) echo "$LOGF" ;;
  *) echo "usage: $0 install|start|stop|status|logfile" >&2; exit 2 ;;
esac
