#!/usr/bin/env bash
# The plain container registry: CNCF distribution 2.8 from Debian (`docker-registry`), no auth,
# deletes enabled, blobs on the filesystem under .stack/registry/data, 127.0.0.1:$REGISTRY_PORT.
# Used by the docker smoke test and by anything that needs "a registry" without Harbor's API.
# The config is rendered from deploy/local/registry/config.yml.in on every start.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
NAME=registry
DIR="$STACK_DIR/registry"
CONF="$DIR/config.yml"
LOGF="$STACK_DIR/logs/registry.log"
URL="http://127.0.0.1:$REGISTRY_PORT/v2/"

answers() { [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL")" == 200 ]]; }

case "${1:-}" in
  install)
    apt_install docker-registry curl
    ;;
  start)
    if pid_alive $NAME; then answers && exit 0; stop_pid $NAME; fi
    port_open "$REGISTRY_PORT" && die "127.0.0.1:$REGISTRY_PORT is taken by another process (not our registry)"
    mkdir -p "$DIR/data"
    sed -e "s|@STORAGE@|$DIR/data|" -e "s|@PORT@|$REGISTRY_PORT|" \
      "$LOCAL_DIR/registry/config.yml.in" > "$CONF"
    # The registry reads REGISTRY_* variables as config overrides: drop ours (REGISTRY_PORT from
    # stack.env) and pass only the upload-state signing secret, kept per stack so that an upload
    # started before a restart can still be finished (and never put on a command line).
    (
      for v in $(compgen -e); do [[ $v == REGISTRY_* ]] && unset "$v"; done
      REGISTRY_HTTP_SECRET=$(secret registry-http); export REGISTRY_HTTP_SECRET
      start_bg $NAME "$LOGF" /usr/bin/docker-registry serve "$CONF"
    )
    wait_until $NAME "$LOGF" 30 answers
    ;;
  stop)
    stop_pid $NAME
    ;;
  status)
    if pid_alive $NAME && answers; then echo "up http://127.0.0.1:$REGISTRY_PORT (pid $(cat "$STACK_DIR/run/$NAME.pid"))"; else echo down; exit 1; fi
    ;;
  logfile) echo "$LOGF" ;;
  *) echo "usage: $0 install|start|stop|status|logfile" >&2; exit 2 ;;
esac
