#!/usr/bin/env bash
# Installs a pinned helm (v3) built from source through the Go module proxy, cached in
# $CACHE_DIR/tools/helm-<version>/helm so a warm machine does not rebuild it (a cold build takes
# several minutes on 2 cores). Prints the binary's path on stdout; progress goes to stderr.
#
# Called by tests/deploy/test_helm_chart.py (module fixture) and usable by hand:
#   helm=$(deploy/tools/install-helm.sh) && "$helm" version
# Why from source: helm is not packaged in Debian bookworm and its release binaries are not on a
# reachable registry; `go install module@version` only needs the Go module proxy.
# Env: HELM_VERSION (pin below), HOPSHARBOR_CACHE_DIR (default ~/.cache/hopsharbor), GO (go binary).
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.21.4}"
# The Kubernetes version helm assumes without a cluster (`helm template`, `helm lint`): helm's own
# Makefile derives it from the k8s.io/client-go it links (v0.36 for helm v3.21 -> 1.36); without it
# a source build says 1.20. Change the two together.
HELM_K8S_VERSION="${HELM_K8S_VERSION:-1.36}"
CACHE_DIR="${HOPSHARBOR_CACHE_DIR:-$HOME/.cache/hopsharbor}"
DEST="$CACHE_DIR/tools/helm-$HELM_VERSION-k$HELM_K8S_VERSION"
BIN="$DEST/helm"

if [[ -x "$BIN" ]] && "$BIN" version --short >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

GO="${GO:-$(command -v go || true)}"
[[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
[[ -n "$GO" ]] || { echo "install-helm: no Go toolchain found (needed to build helm)" >&2; exit 1; }

mkdir -p "$DEST"
# One builder at a time: concurrent test sessions would otherwise both build.
exec 9>"$DEST/.lock"
flock 9
if [[ -x "$BIN" ]] && "$BIN" version --short >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

echo "install-helm: building helm $HELM_VERSION with $("$GO" version) (several minutes when cold)" >&2
tmp="$DEST/.build"
rm -rf "$tmp"
mkdir -p "$tmp"
# Version strings are set at link time, as helm's own Makefile does.
k8s_major=${HELM_K8S_VERSION%%.*} k8s_minor=${HELM_K8S_VERSION#*.}
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=$k8s_major -X $pkg.k8sVersionMinor=$k8s_minor"
done
GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" \
  "$GO" install -trimpath -ldflags "$ldflags" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
mv "$tmp/helm" "$BIN"
rm -rf "$tmp"
"$BIN" version --short >&2
echo "$BIN"
