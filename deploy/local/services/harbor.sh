#!/usr/bin/env bash
# Harbor without containers: core built from source (deploy/local/harbor/build.sh) on
# 127.0.0.1:$HARBOR_PORT, in front of its own CNCF distribution registry from Debian on
# 127.0.0.1:$HARBOR_REGISTRY_PORT, with PostgreSQL (db `registry`) and Redis of this stack
# (started here when they are down, so `stack up harbor` alone is enough).
#
# Wiring, as Harbor's installer sets it up (make/photon/prepare/templates of the release):
#   - the registry has htpasswd auth (realm harbor-registry-basic-realm) with one user,
#     harbor_registry_user, whose password core also gets (REGISTRY_CREDENTIAL_*); filesystem
#     storage under .stack/harbor/registry, deletes enabled, layer info cached in Redis db 1;
#   - clients push and pull through core's /v2/ with Bearer tokens from core's /service/token
#     (signed with .stack/secrets/harbor-token.pem, RSA PKCS#1);
#   - database auth mode; admin password from $HARBOR_ADMIN_PASSWORD at the first start, else
#     generated; either way kept in .stack/secrets/harbor-admin (Harbor reads it only once).
# No jobservice, registryctl, portal or scanner: GC, replication, retention and webhooks are
# absent; /api/v2.0/health reports those components unhealthy, so readiness is /api/v2.0/ping.
#
# When Harbor core cannot be built here (build.sh exit 3: its source is refused), `start` brings
# up everything else, writes the reason to .stack/run/harbor.blocked, warns and exits 0 so that
# `stack up` (and `make test`) still run the rest; `status` says "blocked: <reason>" and exits 1,
# and the tests that need core skip with that reason. HOPSHARBOR_HARBOR_REQUIRED=1 makes `start`
# exit 3 instead.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
NAME=harbor
REG=harbor-registry
DIR="$STACK_DIR/harbor"
LOGF="$STACK_DIR/logs/harbor.log"
REG_LOGF="$STACK_DIR/logs/harbor-registry.log"
BLOCKED="$STACK_DIR/run/harbor.blocked"
OUT="$CACHE_DIR/harbor/$HARBOR_VERSION"
REG_USER=harbor_registry_user
CORE_URL="http://127.0.0.1:$HARBOR_PORT"
REG_URL="http://127.0.0.1:$HARBOR_REGISTRY_PORT"

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1"; }
core_answers() { [[ "$(curl -s --max-time 2 "$CORE_URL/api/v2.0/ping")" == Pong ]]; }
# Without credentials the registry must ask for them: 401 also proves the htpasswd auth is on.
registry_answers() { [[ "$(http_code "$REG_URL/v2/")" == 401 ]]; }

ensure_dependencies() {
  for s in postgres redis; do
    if ! "$LOCAL_DIR/services/$s.sh" status >/dev/null 2>&1; then
      "$LOCAL_DIR/services/$s.sh" install
      "$LOCAL_DIR/services/$s.sh" start
      log "$s up (for harbor)"
    fi
  done
}

# Secrets and keys, generated once per stack; files only (mode 600), never on a command line.
make_secrets() {
  local s="$STACK_DIR/secrets"
  secret harbor-core-secret >/dev/null
  secret harbor-jobservice-secret >/dev/null
  secret harbor-registry-password >/dev/null
  secret harbor-registry-http >/dev/null
  secret harbor-csrf-key 29 >/dev/null          # secret() appends 3 characters: exactly 32
  if [[ ! -s "$s/harbor-secretkey" ]]; then      # KEY_PATH: exactly 16 bytes, no newline
    (umask 077; set +o pipefail; LC_ALL=C tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 16 > "$s/harbor-secretkey")
  fi
  if [[ ! -s "$s/harbor-token.pem" ]]; then      # PKCS#1 ("BEGIN RSA PRIVATE KEY"), as core parses it
    (umask 077; openssl genrsa -traditional -out "$s/harbor-token.pem" 4096 2>/dev/null)
  fi
  if [[ -n "${HARBOR_ADMIN_PASSWORD:-}" && ! -f "$DIR/initialized" ]]; then
    (umask 077; printf '%s' "$HARBOR_ADMIN_PASSWORD" > "$s/harbor-admin")
  elif [[ -n "${HARBOR_ADMIN_PASSWORD:-}" && "$HARBOR_ADMIN_PASSWORD" != "$(cat "$s/harbor-admin")" ]]; then
    log "harbor: HARBOR_ADMIN_PASSWORD differs from the password Harbor was initialised with; keeping .stack/secrets/harbor-admin"
  fi
  secret harbor-admin >/dev/null
  # The registry's htpasswd file (bcrypt, as distribution requires; cost 5 like `htpasswd -B`, since
  # the registry checks it on every request core proxies); the password goes by stdin.
  if [[ ! -s "$DIR/registry.htpasswd" || "$s/harbor-registry-password" -nt "$DIR/registry.htpasswd" ]]; then
    (umask 077; python3 -W ignore -c '
import crypt, sys
print(sys.argv[1] + ":" + crypt.crypt(sys.stdin.read().strip(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)))' \
      "$REG_USER" < "$s/harbor-registry-password" > "$DIR/registry.htpasswd")
  fi
}

write_registry_config() {
  (umask 077; cat > "$DIR/registry.yml" <<YML
version: 0.1
log:
  level: info
  fields:
    service: harbor-registry
storage:
  cache:
    layerinfo: redis
  filesystem:
    rootdirectory: $DIR/registry
  maintenance:
    uploadpurging:
      enabled: false
  delete:
    enabled: true
  redirect:
    disable: true
redis:
  addr: 127.0.0.1:$REDIS_PORT
  db: 1
  dialtimeout: 10s
  readtimeout: 10s
  writetimeout: 10s
  pool:
    maxidle: 100
    maxactive: 500
    idletimeout: 60s
http:
  addr: 127.0.0.1:$HARBOR_REGISTRY_PORT
  secret: $(secret harbor-registry-http)
auth:
  htpasswd:
    realm: harbor-registry-basic-realm
    path: $DIR/registry.htpasswd
validation:
  disabled: true
compatibility:
  schema1:
    enabled: true
YML
  )
}

write_core_config() {
  local s="$STACK_DIR/secrets"
  cat > "$DIR/app.conf" <<CONF
appname = Harbor
runmode = prod
enablegzip = true

[prod]
httpport = $HARBOR_PORT
httpaddr = 127.0.0.1
CONF
  (umask 077; cat > "$DIR/core.env" <<ENV
CONFIG_PATH=$DIR/app.conf
KEY_PATH=$s/harbor-secretkey
TOKEN_PRIVATE_KEY_PATH=$s/harbor-token.pem
POSTGRES_MIGRATION_SCRIPTS_PATH=$OUT/migrations/postgresql/
_REDIS_URL_CORE=redis://127.0.0.1:$REDIS_PORT/0?idle_timeout_seconds=30
_REDIS_URL_REG=redis://127.0.0.1:$REDIS_PORT/1?idle_timeout_seconds=30
LOG_LEVEL=info
EXT_ENDPOINT=$CORE_URL
DATABASE_TYPE=postgresql
POSTGRESQL_HOST=127.0.0.1
POSTGRESQL_PORT=$POSTGRES_PORT
POSTGRESQL_USERNAME=harbor
POSTGRESQL_PASSWORD=$(cat "$s/postgres-harbor")
POSTGRESQL_DATABASE=registry
POSTGRESQL_SSLMODE=disable
POSTGRESQL_MAX_IDLE_CONNS=20
POSTGRESQL_MAX_OPEN_CONNS=100
REGISTRY_URL=$REG_URL
PORTAL_URL=$CORE_URL
TOKEN_SERVICE_URL=$CORE_URL/service/token
HARBOR_ADMIN_PASSWORD=$(cat "$s/harbor-admin")
CONFIG_OVERWRITE_JSON='{"auth_mode":"db_auth"}'
MAX_JOB_WORKERS=1
CORE_SECRET=$(cat "$s/harbor-core-secret")
JOBSERVICE_SECRET=$(cat "$s/harbor-jobservice-secret")
WITH_TRIVY=false
CORE_URL=$CORE_URL
CORE_LOCAL_URL=$CORE_URL
JOBSERVICE_URL=http://127.0.0.1:1
REGISTRY_CONTROLLER_URL=http://127.0.0.1:1
REGISTRY_STORAGE_PROVIDER_NAME=filesystem
REGISTRY_CREDENTIAL_USERNAME=$REG_USER
REGISTRY_CREDENTIAL_PASSWORD=$(cat "$s/harbor-registry-password")
READ_ONLY=false
CSRF_KEY=$(cat "$s/harbor-csrf-key")
PORT=$HARBOR_PORT
ENV
  )
}

start_registry() {
  if pid_alive $REG; then registry_answers && return 0; stop_pid $REG; fi
  port_open "$HARBOR_REGISTRY_PORT" && die "127.0.0.1:$HARBOR_REGISTRY_PORT is taken by another process (not Harbor's registry)"
  mkdir -p "$DIR/registry"
  write_registry_config
  # The registry reads REGISTRY_* variables as config overrides: start it with none of ours.
  start_bg $REG "$REG_LOGF" env -i PATH=/usr/bin:/bin /usr/bin/docker-registry serve "$DIR/registry.yml"
  wait_until $REG "$REG_LOGF" 30 registry_answers
}

start_core() {
  if pid_alive $NAME; then core_answers && return 0; stop_pid $NAME; fi
  port_open "$HARBOR_PORT" && die "127.0.0.1:$HARBOR_PORT is taken by another process (not Harbor core)"
  write_core_config
  # Only paths on the command line; the secrets reach core through the environment file.
  # Core reads views/ and icons/ relative to its working directory ($OUT).
  start_bg $NAME "$LOGF" env -i PATH=/usr/bin:/bin HOME="$DIR" bash -c \
    'set -a; . "$1"; set +a; cd "$2" && exec "$2/bin/harbor_core"' harbor-core "$DIR/core.env" "$OUT"
  # The first start runs ~40 schema migrations; later starts only check them.
  wait_until $NAME "$LOGF" 300 core_answers
  touch "$DIR/initialized"
}

case "${1:-}" in
  install)
    apt_install docker-registry curl openssl python3
    ;;
  start)
    mkdir -p "$DIR"
    ensure_dependencies
    make_secrets
    start_registry
    rc=0; "$LOCAL_DIR/harbor/build.sh" || rc=$?
    if ((rc == 3)); then
      cp "$CACHE_DIR/harbor/$HARBOR_VERSION.blocked" "$BLOCKED"
      log "harbor: BLOCKED, core is not running: $(head -1 "$BLOCKED")"
      log "harbor: up: postgres, redis, Harbor's registry on $REG_URL; DOWN: core on $CORE_URL"
      [[ "${HOPSHARBOR_HARBOR_REQUIRED:-}" == 1 ]] && exit 3
      exit 0
    elif ((rc != 0)); then
      die "harbor: the build of Harbor core failed (log: $CACHE_DIR/harbor/build-$HARBOR_VERSION.log)"
    fi
    rm -f "$BLOCKED"
    start_core
    ;;
  stop)
    stop_pid $NAME
    stop_pid $REG
    ;;
  status)
    if pid_alive $NAME && core_answers; then
      echo "up $CORE_URL ($(curl -s --max-time 2 "$CORE_URL/api/v2.0/systeminfo" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("harbor_version","?"))' 2>/dev/null)), registry $(registry_answers && echo up || echo down)"
    elif [[ -f "$BLOCKED" ]]; then
      echo "blocked: $(head -1 "$BLOCKED") (registry $(registry_answers && echo up || echo down))"; exit 1
    else
      echo down; exit 1
    fi
    ;;
  logfile) echo "$LOGF" ;;
  *) echo "usage: $0 install|start|stop|status|logfile" >&2; exit 2 ;;
esac
