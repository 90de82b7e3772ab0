#!/usr/bin/env bash
# The Docker engine from Debian (`docker.io`), run by hand with its own socket
# (.stack/run/docker.sock), pid file and exec root under .stack, and its data root in
# $CACHE_DIR/docker so that images (the base image above all) survive a fresh checkout.
#
# What works on these machines (and why the flags are what they are):
#   --storage-driver       overlay2 when the kernel and the data root's filesystem allow it, else vfs.
#                          vfs works on any filesystem and kernel but copies the whole root for every
#                          build step, container and pulled layer; overlay2 works on these machines
#                          too and is far faster (measured here, same load: build COPY+RUN 6 s vs
#                          27 s, run 0.6 s vs 14 s, pull 0.7 s vs 18 s), which is most of the test
#                          suite's image work. So: try overlay2, and if dockerd does not come up
#                          with it, start again with vfs (logged). HOPSHARBOR_DOCKER_STORAGE_DRIVER
#                          forces one. Each driver keeps its own images: switching means one
#                          re-import of the base (the tarball is cached).
#   --iptables=false --bridge=none
#                          the stack leaves the machine's firewall and interfaces alone (iptables
#                          exists here, but a docker0 bridge with NAT rules is more than tests
#                          need and would outlive `stack down`), so there is no bridge. Tried here
#                          (docker 20.10): by default both `docker run` and `docker build` RUN steps
#                          get a network namespace of their own with only loopback (the "bridge"
#                          network without a bridge: same as "none"), so they reach nothing.
#                          With network "host" (CLI --network=host, SDK network_mode="host" for
#                          run and build) they share the machine's namespace and reach the stack
#                          on 127.0.0.1 (registry, package index settings of the host, ...).
#                          So: default/"none" for work that needs no network (preferred: a build
#                          installing local wheels with --no-index), "host" when it does.
#   classic builder        DOCKER_BUILDKIT=1 fails here ("buildx component is missing"): the CLI needs
#                          DOCKER_BUILDKIT=0; the docker SDK's images.build always uses the classic builder.
#   insecure registries    the plain registry (127.0.0.1:$REGISTRY_PORT), Harbor core
#                          (127.0.0.1:$HARBOR_PORT) and Harbor's registry (127.0.0.1:$HARBOR_REGISTRY_PORT)
#                          speak plain HTTP.
# Clients: DOCKER_HOST=unix://$STACK_DIR/run/$DOCKER_SOCKET_NAME (`deploy/local/stack env` prints it).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
NAME=dockerd
SOCK="$STACK_DIR/run/$DOCKER_SOCKET_NAME"
CONF="$STACK_DIR/dockerd.json"
LOGF="$STACK_DIR/logs/dockerd.log"
DATA="$CACHE_DIR/docker"
EXEC_ROOT="$STACK_DIR/run/docker"

dk() { DOCKER_BUILDKIT=0 docker -H "unix://$SOCK" "$@"; }
answers() { curl -sf --max-time 5 --unix-socket "$SOCK" http://localhost/_ping >/dev/null; }  # cheapest "alive"

write_conf() {
  cat > "$CONF" <<JSON
{
  "storage-driver": "$1",
  "iptables": false,
  "ip-masq": false,
  "bridge": "none",
  "data-root": "$DATA",
  "exec-root": "$EXEC_ROOT",
  "pidfile": "$STACK_DIR/run/dockerd-self.pid",
  "hosts": ["unix://$SOCK"],
  "insecure-registries": [
    "127.0.0.1:$REGISTRY_PORT",
    "127.0.0.1:$HARBOR_PORT",
    "127.0.0.1:$HARBOR_REGISTRY_PORT"
  ],
  "features": {"buildkit": false},
  "log-level": "info"
}
JSON
}

case "${1:-}" in
  install)
    apt_install docker.io curl
    ;;
  start)
    mkdir -p "$DATA" "$EXEC_ROOT"
    if pid_alive $NAME; then answers && { echo "$STACK_DIR" > "$DATA/.hopsharbor-stack"; exit 0; }; stop_pid $NAME; fi
    # The data root is shared by every checkout on the machine (it lives in $CACHE_DIR), but two
    # daemons on one data root corrupt it: refuse while another checkout's dockerd is running.
    owner=$(cat "$DATA/.hopsharbor-stack" 2>/dev/null || true)
    if [[ -n "$owner" && "$owner" != "$STACK_DIR" && -f "$owner/run/$NAME.pid" ]] \
        && kill -0 "$(cat "$owner/run/$NAME.pid")" 2>/dev/null; then
      die "$DATA is in use by the dockerd of $owner: stop that one first (or set HOPSHARBOR_CACHE_DIR)"
    fi
    echo "$STACK_DIR" > "$DATA/.hopsharbor-stack"
    # A dockerd killed hard leaves its pid file behind; it refuses to start while that names a
    # live process, so only remove it when the process is gone.
    if [[ -f "$STACK_DIR/run/dockerd-self.pid" ]] && ! kill -0 "$(cat "$STACK_DIR/run/dockerd-self.pid")" 2>/dev/null; then
      rm -f "$STACK_DIR/run/dockerd-self.pid"
    fi
    driver=${HOPSHARBOR_DOCKER_STORAGE_DRIVER:-overlay2}
    write_conf "$driver"
    start_bg $NAME "$LOGF" dockerd --config-file "$CONF"
    if [[ -z "${HOPSHARBOR_DOCKER_STORAGE_DRIVER:-}" ]]; then
      deadline=$((SECONDS + 30))
      until dk info >/dev/null 2>&1; do
        if ! pid_alive $NAME || ((SECONDS >= deadline)); then
          log "dockerd did not start with overlay2 (see $LOGF); starting it with vfs"
          stop_pid $NAME
          write_conf vfs
          start_bg $NAME "$LOGF" dockerd --config-file "$CONF"
          break
        fi
        sleep 0.5
      done
    fi
    wait_until $NAME "$LOGF" 60 dk info
    ;;
  stop)
    stop_pid $NAME
    # dockerd leaves its default network namespace mounted under the exec root: unmount it so the
    # checkout (and its .stack) can be removed.
    umount "$EXEC_ROOT/netns/default" 2>/dev/null || true
    ;;
  status)
    if pid_alive $NAME && v=$(dk version -f '{{.Server.Version}}' 2>/dev/null); then
      echo "up docker $v $(dk info -f '{{.Driver}}' 2>/dev/null) unix://$SOCK ($(dk images -q | wc -l) images)"
    else echo down; exit 1; fi
    ;;
  logfile) echo "$LOGF" ;;
  *) echo "usage: $0 install|start|stop|status|logfile" >&2; exit 2 ;;
esac
