#!/usr/bin/env bash
# Helm, for rendering and linting the chart under deploy/ (tests/platform/test_deploy.py): built from its
# Go module (the Go module proxy is the registry that serves it here) once, then kept in the cache.
#   scripts/deploy-tools.sh          installs if missing and prints the binary's path
# Environment: HARBIN_CACHE (~/.cache/harbin-assistance). The schemas the manifests are checked against
# come from the kubernetes-validate package (pyproject.toml, test extra).
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
CACHE=${HARBIN_CACHE:-$HOME/.cache/harbin-assistance}
BIN="$CACHE/helm-$HELM_VERSION/helm"

log() { echo "deploy-tools: $*" >&2; }

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { log "Go is needed to build Helm (apt-get install golang)"; exit 1; }
  log "building Helm $HELM_VERSION from its Go module into $(dirname "$BIN") (once; a few minutes)"
  mkdir -p "$(dirname "$BIN")"
  tmp=$(mktemp -d)
  GOBIN="$tmp" GOFLAGS="-buildvcs=false -trimpath" \
    go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$tmp/helm" "$BIN"
  rmdir "$tmp"
fi
echo "$BIN"
