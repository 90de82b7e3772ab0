#!/usr/bin/env bash
# PostgreSQL 15 from Debian, run by hand for Harbor core: 127.0.0.1:$POSTGRES_PORT, data in
# .stack/postgres (owned by the postgres user, which the server must run as), unix socket in
# .stack/run/postgres. Superuser `postgres` over the socket only (peer auth); role `harbor`
# (password in .stack/secrets/postgres-harbor, scram over TCP) owning database `registry`, the
# name Harbor uses. Core runs its own schema migrations at every start.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
NAME=postgres
PGBIN=/usr/lib/postgresql/15/bin
DATA="$STACK_DIR/postgres"
SOCKDIR="$STACK_DIR/run/postgres"
LOGF="$STACK_DIR/logs/postgres.log"
DB_USER=harbor
DB_NAME=registry

as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- env HOME=/var/lib/postgresql "$@"; }
psql_su() { as_pg "$PGBIN/psql" -h "$SOCKDIR" -p "$POSTGRES_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

case "${1:-}" in
  install)
    apt_install postgresql-15 postgresql-client-15
    ;;
  start)
    pid_alive $NAME && exit 0
    mkdir -p "$DATA" "$SOCKDIR"
    chown postgres:postgres "$DATA" "$SOCKDIR"
    chmod 700 "$DATA"
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
      as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$STACK_DIR/logs/postgres-initdb.log" 2>&1 \
        || fail_with_log $NAME "$STACK_DIR/logs/postgres-initdb.log" "initdb failed"
    fi
    touch "$LOGF"; chown postgres:postgres "$LOGF"
    # setpriv execs: the recorded pid is the postmaster itself.
    start_bg $NAME "$LOGF" setpriv --reuid=postgres --regid=postgres --init-groups -- \
      "$PGBIN/postgres" -D "$DATA" -c listen_addresses=127.0.0.1 -c port="$POSTGRES_PORT" \
      -c unix_socket_directories="$SOCKDIR" -c max_connections=200 -c fsync=off \
      -c synchronous_commit=off -c full_page_writes=off
    wait_until $NAME "$LOGF" 60 "$PGBIN/pg_isready" -q -h "$SOCKDIR" -p "$POSTGRES_PORT"
    pw=$(secret postgres-harbor)
    # The password travels on psql's stdin, never on a command line.
    psql_su -d postgres <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$DB_USER') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') \gexec
ALTER ROLE $DB_USER WITH LOGIN PASSWORD '$pw';
SELECT format('CREATE DATABASE %I OWNER %I', '$DB_NAME', '$DB_USER') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB_NAME') \gexec
SQL
    ;;
  stop)
    # SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for Harbor's pooled connections).
    if pid_alive $NAME; then
      pid=$(cat "$STACK_DIR/run/$NAME.pid")
      kill -INT "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    stop_pid $NAME
    ;;
  status)
    if pid_alive $NAME && psql_su -d postgres -A -t -c 'show server_version' 2>/dev/null; then :; else echo down; exit 1; fi
    ;;
  logfile) echo "$LOGF" ;;
  *) echo "usage: $0 install|start|stop|status|logfile" >&2; exit 2 ;;
esac
