#!/usr/bin/env bash
# MariaDB from Debian, configured the way the binlog connector needs it: ROW events, full row
# images and full row metadata (column names), GTIDs. Two users besides root:
#   capture user  REPLICATION SLAVE, REPLICATION CLIENT (MariaDB: BINLOG MONITOR), SELECT, RELOAD,
#                 LOCK TABLES — what a binlog reader and a consistent snapshot need, nothing more;
#   app user      read/write on the Hopsworks database (plays Hopsworks in tests and `simulate`).
# Passwords are generated per stack into .stack/secrets/.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
NAME=mariadb
DATA="$STACK_DIR/mariadb"
CNF="$STACK_DIR/mariadb.cnf"
LOGF="$STACK_DIR/logs/mariadb.log"
SOCK="$STACK_DIR/run/mariadb.sock"

root_sql() { mariadb --protocol=socket -S "$SOCK" -uroot "$@"; }

write_cnf() {
  cat > "$CNF" <<CNF
[mysqld]
user = root
datadir = $DATA
socket = $SOCK
pid-file = $STACK_DIR/run/mariadbd.pid
bind-address = 127.0.0.1
port = $MARIADB_PORT
log-error = $LOGF
server_id = 1
log_bin = $DATA/binlog
binlog_format = ROW
binlog_row_image = FULL
binlog_row_metadata = FULL
gtid_strict_mode = 1
expire_logs_days = 7
max_binlog_size = 64M
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
innodb_buffer_pool_size = 256M
innodb_flush_log_at_trx_commit = 2
sync_binlog = 0
max_connections = 300
skip-name-resolve
CNF
}

case "${1:-}" in
  install)
    apt_install mariadb-server mariadb-client
    ;;
  start)
    pid_alive $NAME && exit 0
    write_cnf
    if [[ ! -d "$DATA/mysql" ]]; then
      mkdir -p "$DATA"
      mariadb-install-db --defaults-file="$CNF" --auth-root-authentication-method=socket \
        >"$STACK_DIR/logs/mariadb-install.log" 2>&1 \
        || fail_with_log $NAME "$STACK_DIR/logs/mariadb-install.log" "mariadb-install-db failed"
    fi
    start_bg $NAME "$LOGF" mariadbd --defaults-file="$CNF"
    wait_until $NAME "$LOGF" 60 root_sql -e 'select 1'
    cap=$(secret mariadb-capture) app=$(secret mariadb-app)
    root_sql <<SQL
CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$MARIADB_CAPTURE_USER'@'127.0.0.1' IDENTIFIED BY '$cap';
CREATE USER IF NOT EXISTS '$MARIADB_CAPTURE_USER'@'localhost' IDENTIFIED BY '$cap';
GRANT SELECT, RELOAD, LOCK TABLES, REPLICATION SLAVE, BINLOG MONITOR, REPLICATION SLAVE ADMIN ON *.* TO '$MARIADB_CAPTURE_USER'@'127.0.0.1', '$MARIADB_CAPTURE_USER'@'localhost';
CREATE USER IF NOT EXISTS '$MARIADB_APP_USER'@'127.0.0.1' IDENTIFIED BY '$app';
CREATE USER IF NOT EXISTS '$MARIADB_APP_USER'@'localhost' IDENTIFIED BY '$app';
GRANT ALL PRIVILEGES ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_APP_USER'@'127.0.0.1', '$MARIADB_APP_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`hopsharbor\\_%\`.* TO '$MARIADB_APP_USER'@'127.0.0.1', '$MARIADB_APP_USER'@'localhost';
GRANT CREATE ON *.* TO '$MARIADB_APP_USER'@'127.0.0.1', '$MARIADB_APP_USER'@'localhost';
SQL
    # The Hopsworks schema (schemas/hopsworks.sql) into the main database; idempotent.
    root_sql "$MARIADB_DATABASE" < "$REPO_DIR/schemas/hopsworks.sql"
    ;;
  stop)
    if pid_alive $NAME; then root_sql -e 'shutdown' >/dev/null 2>&1 || true; fi
    stop_pid $NAME
    ;;
  status)
    if pid_alive $NAME && root_sql -N -e 'select @@version, @@gtid_current_pos' 2>/dev/null | tr '\t' ' '; then :; else echo down; exit 1; fi
    ;;
  logfile) echo "$LOGF" ;;
  *) echo "usage: $0 install|start|stop|status|logfile" >&2; exit 2 ;;
esac
