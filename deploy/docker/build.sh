#!/usr/bin/env bash
# Builds the hopsharbor image in the local stack's dockerd (or $DOCKER_HOST) FROM $BASE_IMAGE.
#
#   deploy/docker/build.sh [TAG]        (default TAG: hopsharbor:dev; prints the image id on stdout)
#
# Steps: (1) wheels of every dependency, built on the host with the host's pip and its index
# settings, cached in $CACHE_DIR/image-wheels/<hash of pyproject.toml> so a warm machine reuses
# them; (2) the hopsharbor wheel, built fresh from a copy of the working tree; (3) `docker build`
# of a context holding only the Dockerfile and wheels/, with RUN steps on network "none" (the
# image installs with `pip install --no-index`, so it cannot depend on any index).
# Called by tests/deploy/test_image.py; needs `deploy/local/stack up dockerd baseimage`.
# Env: PYTHON (host interpreter with pip; default .venv/bin/python), DOCKER_HOST, BASE_IMAGE,
# HOPSHARBOR_CACHE_DIR. A failing step stops the script with its output on stderr.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TAG="${1:-hopsharbor:dev}"
CACHE_DIR="${HOPSHARBOR_CACHE_DIR:-$HOME/.cache/hopsharbor}"
STACK_DIR="${HOPSHARBOR_STACK_DIR:-$REPO_DIR/.stack}"
envval() { grep -E "^$1=" "$REPO_DIR/deploy/local/stack.env" | head -1 | cut -d= -f2-; }
BASE_IMAGE="${BASE_IMAGE:-$(envval BASE_IMAGE)}"
export DOCKER_HOST="${DOCKER_HOST:-unix://$STACK_DIR/run/${DOCKER_SOCKET_NAME:-$(envval DOCKER_SOCKET_NAME)}}"
export DOCKER_BUILDKIT=0
PYTHON="${PYTHON:-$REPO_DIR/.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3
log() { printf '[image] %s\n' "$*" >&2; }

docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
  || { log "base image $BASE_IMAGE not in $DOCKER_HOST: run deploy/local/stack up dockerd baseimage"; exit 1; }

# Wheels with compiled parts are tagged for one Python: the host's must match the image's.
host_py=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
image_py=$(docker run --rm --network none --entrypoint python3 "$BASE_IMAGE" \
  -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[[ "$host_py" == "$image_py" ]] \
  || { log "host Python $host_py ($PYTHON) differs from $BASE_IMAGE's $image_py: set PYTHON"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src="$work/src"; ctx="$work/context"
mkdir -p "$src" "$ctx"
# A copy of the tree, so the build leaves no build/ folder in the checkout and takes no stray file.
for f in pyproject.toml README.md setup.cfg setup.py MANIFEST.in LICENSE; do
  [[ -e "$REPO_DIR/$f" ]] && cp "$REPO_DIR/$f" "$src/"
done
for d in connectors streams schemas; do
  (cd "$REPO_DIR" && tar --exclude=__pycache__ -cf - "$d") | tar -xf - -C "$src"
done

# Keyed by the runtime dependencies only: dev extras or tool settings in pyproject.toml don't count.
deps_key=$("$PYTHON" -c 'import json, sys, tomllib
print(json.dumps(sorted(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"])))' \
  "$REPO_DIR/pyproject.toml" | sha256sum | cut -c1-12)
deps="$CACHE_DIR/image-wheels/py$host_py-$deps_key"
mkdir -p "$CACHE_DIR/image-wheels"
exec 9>"$CACHE_DIR/image-wheels/.lock"
flock 9  # two builds at once (two checkouts share $CACHE_DIR) must not fill the same folder
if [[ ! -f "$deps/.complete" ]]; then
  log "building dependency wheels into $deps (about a minute when cold)"
  rm -rf "$deps"; mkdir -p "$deps"
  "$PYTHON" -m pip wheel -q --wheel-dir "$deps" "$src" >&2
  rm -f "$deps"/hopsharbor-*.whl
  touch "$deps/.complete"
  # Wheel sets of older dependency lists are dead weight.
  find "$CACHE_DIR/image-wheels" -mindepth 1 -maxdepth 1 -type d ! -path "$deps" -exec rm -rf {} +
fi
mkdir -p "$ctx/wheels/app" "$ctx/wheels/deps"
cp "$deps"/*.whl "$ctx/wheels/deps/"
flock -u 9
log "building the hopsharbor wheel"
# Fixed zip timestamps: an unchanged tree gives the same wheel, so docker's layer cache holds.
SOURCE_DATE_EPOCH=315532800 "$PYTHON" -m pip wheel -q --no-deps --wheel-dir "$ctx/wheels/app" "$src" >&2
cp "$REPO_DIR/deploy/docker/Dockerfile" "$REPO_DIR/deploy/docker/.dockerignore" "$ctx/"

log "docker build $TAG FROM $BASE_IMAGE ($(ls "$ctx/wheels/deps" | wc -l) dependency wheels)"
docker build --network none --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$TAG" "$ctx" \
  | while IFS= read -r line; do printf '%s %s\n' "$(date +%T)" "$line"; done >&2
# On vfs every layer is a full copy of the root filesystem: drop what earlier builds left dangling
# (older final images and app stages; the dependency stage stays, it is the expensive cache).
for label in org.opencontainers.image.title=hopsharbor org.hopsharbor.build-stage=app; do
  docker image prune -f --filter "label=$label" >/dev/null || true
done
docker image inspect -f '{{.Id}}' "$TAG"
