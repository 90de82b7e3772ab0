# Shared helpers for deploy/local/stack and deploy/local/services/*.sh. Sourced, never run.
#
# Layout:
#   $STACK_DIR  (default <repo>/.stack, git-ignored)  per-checkout data, logs, pid files, secrets
#   $CACHE_DIR  (default ~/.cache/hopsharbor)          downloads and builds kept across checkouts
#                                                      (Maven jars, Go caches, Harbor binaries, base image)
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="$REPO_DIR/deploy/local"
STACK_DIR="${HOPSHARBOR_STACK_DIR:-$REPO_DIR/.stack}"
CACHE_DIR="${HOPSHARBOR_CACHE_DIR:-$HOME/.cache/hopsharbor}"
mkdir -p "$STACK_DIR/logs" "$STACK_DIR/run" "$STACK_DIR/secrets" "$CACHE_DIR"

# Values from stack.env, unless already set in the environment.
while IFS='=' read -r _k _v; do
  [[ -z "$_k" || "$_k" == \#* ]] && continue
  if [[ -z "${!_k:-}" ]]; then export "$_k=$_v"; fi
done < "$LOCAL_DIR/stack.env"

log()  { printf '[stack] %s\n' "$*" >&2; }
die()  { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# fail_with_log NAME LOGFILE MESSAGE: stop the stack step and show what the server said.
fail_with_log() {
  local name=$1 file=$2; shift 2
  printf '[stack] ERROR: %s: %s\n--- last 40 lines of %s ---\n' "$name" "$*" "$file" >&2
  tail -n 40 "$file" >&2 2>/dev/null || true
  exit 1
}

# apt_install PKG...: installs only the packages that are missing (apt-get update once per stack run).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]} (apt)"
  if [[ ! -f "$STACK_DIR/run/apt-updated" ]]; then
    apt-get update -qq >"$STACK_DIR/logs/apt.log" 2>&1 || fail_with_log apt "$STACK_DIR/logs/apt.log" "apt-get update failed"
    touch "$STACK_DIR/run/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >>"$STACK_DIR/logs/apt.log" 2>&1 || fail_with_log apt "$STACK_DIR/logs/apt.log" "apt-get install ${missing[*]} failed"
  # Debian's maintainer scripts may start servers on their default ports; we run our own.
  for svc in mariadb postgresql redis-server prometheus docker-registry docker; do
    command -v service >/dev/null && service "$svc" stop >/dev/null 2>&1 || true
  done
}

# pid_alive NAME: true when the pid file of NAME names a live process.
pid_alive() {
  local f="$STACK_DIR/run/$1.pid"
  [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

# start_bg NAME LOGFILE CMD...: start a server detached (own session), record its pid.
start_bg() {
  local name=$1 logf=$2; shift 2
  setsid "$@" >>"$logf" 2>&1 < /dev/null &
  echo $! > "$STACK_DIR/run/$name.pid"
}

# stop_pid NAME: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
  local f="$STACK_DIR/run/$1.pid" pid
  [[ -f "$f" ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# wait_until NAME LOGFILE SECONDS CMD...: poll CMD until it succeeds; on timeout or if the
# server's process died, stop with the tail of its log.
wait_until() {
  local name=$1 logf=$2 secs=$3; shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [[ -f "$STACK_DIR/run/$name.pid" ]] && ! pid_alive "$name"; then
      fail_with_log "$name" "$logf" "the server exited while starting"
    fi
    ((SECONDS < deadline)) || fail_with_log "$name" "$logf" "did not answer within ${secs}s"
    sleep 0.5
  done
}

# port_open PORT: something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# secret NAME [LENGTH]: a per-stack random secret kept in $STACK_DIR/secrets/NAME (mode 600).
secret() {
  local f="$STACK_DIR/secrets/$1" n=${2:-24}
  if [[ ! -s "$f" ]]; then
    (umask 077; set +o pipefail; LC_ALL=C tr -dc 'A-Za-z0-9' < /dev/urandom | head -c "$n" > "$f"; printf 'Aa1' >> "$f")
  fi
  cat "$f"
}
