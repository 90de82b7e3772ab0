#!/usr/bin/env bash
# The local Python base image $BASE_IMAGE (hopsharbor/python-base:bookworm) in the stack's dockerd.
# No public image hub is reachable, so it is made here: mmdebstrap builds a minimal Debian
# bookworm root (python3, venv, pip, CA certificates; pip in a venv at /opt/venv, see
# deploy/local/baseimage/customize.sh) from the machine's own apt sources, and `docker import`
# turns the tarball into an image.
#
# Cheap when warm: the tarball is cached in $CACHE_DIR/baseimage/python-base-<recipe hash>.tar
# (kept across checkouts) and the image carries the recipe hash as a label, so `start` does
# nothing when dockerd already has the image of the current recipe, imports the cached tarball
# when only the image is missing, and runs mmdebstrap (~30-60 s) only when the recipe changed or
# the cache is empty. Needs dockerd (start it first).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
NAME=baseimage
LOGF="$STACK_DIR/logs/baseimage.log"
SOCK="$STACK_DIR/run/$DOCKER_SOCKET_NAME"
OUT="$CACHE_DIR/baseimage"
SUITE=bookworm
PACKAGES=python3-minimal,python3-venv,python3-pip,ca-certificates
# Size matters more than usual: with vfs every build step and container copies the whole root.
# The merged-usr hook sets up /usr symlinks itself (otherwise bookworm pulls in usrmerge and
# with it perl, ~50 MB); docs, man pages and translations are left out (~50 MB).
MMDEBSTRAP_OPTS=(
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt=path-exclude=/usr/share/doc/*
  --dpkgopt=path-include=/usr/share/doc/*/copyright
  --dpkgopt=path-exclude=/usr/share/man/*
  --dpkgopt=path-exclude=/usr/share/info/*
  --dpkgopt=path-exclude=/usr/share/locale/*
  --dpkgopt=path-include=/usr/share/locale/locale.alias
)
# What `docker import` records in the image config: the venv first on PATH, plain UTF-8, pip
# quiet about its version and without a cache (layers stay small), `python3` by default.
CHANGES=(
  "ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  "ENV VIRTUAL_ENV=/opt/venv"
  "ENV LANG=C.UTF-8"
  "ENV PYTHONUNBUFFERED=1"
  "ENV PIP_DISABLE_PIP_VERSION_CHECK=1"
  "ENV PIP_NO_CACHE_DIR=1"
  "WORKDIR /"
  'CMD ["python3"]'
)

dk() { DOCKER_BUILDKIT=0 docker -H "unix://$SOCK" "$@"; }

recipe_hash() {
  { echo "$SUITE $PACKAGES"; printf '%s\n' "${MMDEBSTRAP_OPTS[@]}" "${CHANGES[@]}"; cat "$LOCAL_DIR/baseimage/customize.sh"; } \
    | sha256sum | cut -c1-12
}

# The machine's apt sources, handed to mmdebstrap in place of a mirror (never a host name in a file).
apt_sources() {
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -s "$f" ]] && { echo "$f"; return; }
  done
  die "no apt sources file (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)"
}

image_hash() { dk image inspect -f '{{index .Config.Labels "org.hopsharbor.recipe"}}' "$BASE_IMAGE" 2>/dev/null; }

build_tar() {  # build_tar TAR: mmdebstrap into a temporary file, then rename (no half tarballs)
  local tar=$1 tmp="$1.tmp.$$"
  log "building $BASE_IMAGE root with mmdebstrap (takes a minute; log: $LOGF)"
  mmdebstrap --variant=minbase --include="$PACKAGES" "${MMDEBSTRAP_OPTS[@]}" \
    --customize-hook="$LOCAL_DIR/baseimage/customize.sh \"\$1\"" \
    --format=tar "$SUITE" "$tmp" "$(apt_sources)" >>"$LOGF" 2>&1 \
    || { rm -f "$tmp"; fail_with_log $NAME "$LOGF" "mmdebstrap failed"; }
  mv "$tmp" "$tar"
}

case "${1:-}" in
  install)
    apt_install mmdebstrap docker.io curl
    ;;
  start)
    curl -sf --max-time 5 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1 || die "dockerd is not running: deploy/local/stack up dockerd"
    hash=$(recipe_hash)
    [[ "$(image_hash)" == "$hash" ]] && exit 0
    mkdir -p "$OUT"
    tar="$OUT/python-base-$hash.tar"
    (
      # Two `stack up` at once (two checkouts share $CACHE_DIR) must not build the same tarball twice.
      flock 9
      rm -f "$OUT"/*.tmp.*  # left by a build that was killed (we hold the lock: nobody is writing)
      [[ -s "$tar" ]] || build_tar "$tar"
      if [[ "$(image_hash)" != "$hash" ]]; then
        log "importing $tar as $BASE_IMAGE"
        changes=(); for c in "${CHANGES[@]}"; do changes+=(--change "$c"); done
        dk import "${changes[@]}" --change "LABEL org.hopsharbor.recipe=$hash" \
          --message "hopsharbor base image, recipe $hash" "$tar" "$BASE_IMAGE" >>"$LOGF" 2>&1 \
          || fail_with_log $NAME "$LOGF" "docker import failed"
      fi
    ) 9>"$OUT/.lock"
    # Tarballs of older recipes are dead weight.
    find "$OUT" -maxdepth 1 -name 'python-base-*.tar' ! -name "python-base-$hash.tar" -delete
    dk run --rm --network none "$BASE_IMAGE" python -c 'import sys; assert sys.prefix == "/opt/venv"' \
      >>"$LOGF" 2>&1 || fail_with_log $NAME "$LOGF" "$BASE_IMAGE does not run python from /opt/venv"
    ;;
  stop) : ;;  # an image, not a server
  status)
    if h=$(image_hash) && [[ -n "$h" ]]; then
      [[ "$h" == "$(recipe_hash)" ]] && echo "up $BASE_IMAGE (recipe $h)" || echo "stale $BASE_IMAGE (recipe $h, want $(recipe_hash))"
    else echo down; exit 1; fi
    ;;
  logfile) echo "$LOGF" ;;
  *) echo "usage: $0 install|start|stop|status|logfile" >&2; exit 2 ;;
esac
