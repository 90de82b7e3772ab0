#!/usr/bin/env bash
# Builds Harbor core ($HARBOR_VERSION, stack.env) from source with the Go toolchain and the Go
# module proxy configured on this machine; no containers. Called by services/harbor.sh on every
# start (a no-op once the binary exists), or by hand: `deploy/local/harbor/build.sh`.
#
# Everything lives under $CACHE_DIR/harbor, so a warm machine never rebuilds:
#   gomod/ gocache/ gopath/   Go module cache, build cache, GOPATH (shared by all versions)
#   bin/swagger-<ver>         go-swagger, the version the release pins
#   <version>/                the result: bin/harbor_core, migrations/postgresql/, views/, icons/
#   work/<version>/           the writable source tree the build runs in (kept for inspection)
#
# Steps (the same as the release Makefile's gen_apis + compile_core, without its build images):
#   1. the repository root as github.com/goharbor/harbor@<version>+incompatible: migrations,
#      swagger spec, swagger templates, icons; its .info gives the release commit and time;
#   2. the module github.com/goharbor/harbor/src at that commit (pseudo-version), copied into a
#      writable tree so that its go.mod replace directives apply (it must be the main module);
#   3. go-swagger generates src/server/v2.0/{models,restapi} from api/v2.0/swagger.yaml;
#   4. go build ./core with the release ldflags.
# Exit codes: 0 built (or already built); 3 the source is not obtainable here (the reason is on
# stderr and in $CACHE_DIR/harbor/<version>.blocked); anything else: the build failed.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VERSION=${HARBOR_VERSION:?}
SWAGGER_VERSION=v0.33.1   # Makefile SWAGGER_VERSION of the release; newer templates need newer go-openapi
H="$CACHE_DIR/harbor"
OUT="$H/$VERSION"
WORK="$H/work/$VERSION"
BLOCKED="$H/$VERSION.blocked"
BLOG="$H/build-$VERSION.log"

if [[ -x "$OUT/bin/harbor_core" && -f "$OUT/.complete" ]]; then exit 0; fi

export PATH="/usr/local/go/bin:$PATH"
export GOMODCACHE="$H/gomod" GOCACHE="$H/gocache" GOPATH="$H/gopath" GOTOOLCHAIN=local
export GOFLAGS=-buildvcs=false CGO_ENABLED=0
mkdir -p "$H/bin" "$OUT"
: > "$BLOG"
t0=$SECONDS
step() { log "harbor build: $* ($((SECONDS - t0))s)"; printf '== %s\n' "$*" >> "$BLOG"; }

# json_field FILE KEY[.KEY]: one value out of `go mod download -json` output.
json_field() {
  python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v.get(k, {}) if isinstance(v, dict) else {}
print(v if isinstance(v, str) else "")' "$1" "$2"
}

# download MODULE@VERSION JSONFILE: go mod download, outside any module; keeps the proxy's answer.
download() {
  (cd "$H" && go mod download -json "$1") > "$2" 2>>"$BLOG"
}

blocked() {
  # The proxy's own words, with its address left out (no registry host names in files).
  { printf 'Harbor %s cannot be built here: %s\n' "$VERSION" "$1"; grep -h -E '"Error"' "$2" 2>/dev/null | head -3; } \
    | sed -E 's#https?://[^/ ]+/#<module proxy>/#g' | tee "$BLOCKED" >&2
  exit 3
}

step "repository root github.com/goharbor/harbor@$VERSION+incompatible"
download "github.com/goharbor/harbor@$VERSION+incompatible" "$H/root.json" \
  || blocked "the Go module proxy refused github.com/goharbor/harbor@$VERSION+incompatible" "$H/root.json"
ROOT_DIR=$(json_field "$H/root.json" Dir)
COMMIT=$(json_field "$H/root.json" Origin.Hash)
TIME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]+"/cache/download/github.com/goharbor/harbor/@v/'"$VERSION"'+incompatible.info"))["Time"])' "$GOMODCACHE")
[[ -n "$ROOT_DIR" && ${#COMMIT} -ge 12 && -n "$TIME" ]] || { cat "$H/root.json" >&2; die "unexpected answer for the Harbor repository root"; }
# A module in a subdirectory without a valid semver tag of its own: the pseudo-version of the commit.
PSEUDO="v0.0.0-$(date -u -d "$TIME" +%Y%m%d%H%M%S)-${COMMIT:0:12}"

step "module github.com/goharbor/harbor/src@$PSEUDO (release commit $COMMIT)"
if ! download "github.com/goharbor/harbor/src@$PSEUDO" "$H/src.json"; then
  blocked "the Go module proxy refuses github.com/goharbor/harbor/src@$PSEUDO (Harbor core's source; the repository root above downloaded)" "$H/src.json"
fi
rm -f "$BLOCKED"
SRC_DIR=$(json_field "$H/src.json" Dir)
[[ -d "$SRC_DIR/core" ]] || die "module github.com/goharbor/harbor/src@$PSEUDO has no core/ directory"

step "writable source tree in $WORK"
rm -rf "$WORK"; mkdir -p "$WORK"
cp -r "$ROOT_DIR/api" "$ROOT_DIR/tools" "$ROOT_DIR/make" "$ROOT_DIR/icons" "$ROOT_DIR/VERSION" "$WORK/"
cp -r "$SRC_DIR" "$WORK/src"
chmod -R u+w "$WORK"

SWAGGER="$H/bin/swagger-$SWAGGER_VERSION"
if [[ ! -x "$SWAGGER" ]]; then
  step "go-swagger $SWAGGER_VERSION"
  GOBIN="$H/bin/gobin-$SWAGGER_VERSION" go install "github.com/go-swagger/go-swagger/cmd/swagger@$SWAGGER_VERSION" >>"$BLOG" 2>&1 \
    || fail_with_log harbor-build "$BLOG" "go install go-swagger failed"
  mv "$H/bin/gobin-$SWAGGER_VERSION/swagger" "$SWAGGER"
fi

step "generate the API server code (src/server/v2.0)"
(cd "$WORK" && rm -rf src/server/v2.0/models src/server/v2.0/restapi && mkdir -p src/server/v2.0 \
  && "$SWAGGER" generate server --template-dir=tools/swagger/templates --exclude-main \
       --additional-initialism=CVE --additional-initialism=GC --additional-initialism=OIDC \
       -f api/v2.0/swagger.yaml -A harbor --target src/server/v2.0 --quiet) >>"$BLOG" 2>&1 \
  || fail_with_log harbor-build "$BLOG" "swagger generate server failed"

step "go build ./core (downloads Harbor's dependencies on a cold machine)"
LDFLAGS="-w -s -X github.com/goharbor/harbor/src/pkg/version.GitCommit=${COMMIT:0:8} -X github.com/goharbor/harbor/src/pkg/version.ReleaseVersion=$VERSION"
(cd "$WORK/src" && GOFLAGS="-buildvcs=false -mod=mod" go build -trimpath -ldflags "$LDFLAGS" -o "$OUT/bin/harbor_core.new" ./core) >>"$BLOG" 2>&1 \
  || fail_with_log harbor-build "$BLOG" "go build ./core failed"
mv "$OUT/bin/harbor_core.new" "$OUT/bin/harbor_core"

step "runtime files: migrations, views, icons"
rm -rf "$OUT/migrations" "$OUT/views" "$OUT/icons"
cp -r "$ROOT_DIR/make/migrations" "$OUT/migrations"
cp -r "$WORK/src/core/views" "$OUT/views"
cp -r "$ROOT_DIR/icons" "$OUT/icons"
chmod -R u+w "$OUT"
echo "$COMMIT" > "$OUT/.complete"
step "done: $OUT/bin/harbor_core"
