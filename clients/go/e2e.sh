#!/usr/bin/env bash
# The cross-language end-to-end script in Go (tests/clients_e2e.rs runs it):
# builds examples/e2e once (quietly, no network: the module has no dependencies), then runs
# the phase given (online, offline, rollback, seats). Output: one JSON line per step on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${KEYHOOK_GO_E2E_BIN:-$here/.build/keyhook-e2e}"
if [ ! -x "$bin" ] || [ -n "$(find "$here" -name '*.go' -newer "$bin" -print -quit)" ]; then
  mkdir -p "$(dirname "$bin")"
  # Without HOME (some CI shells), go has no default build cache: keep one beside the binary.
  [ -n "${HOME:-}${XDG_CACHE_HOME:-}${GOCACHE:-}" ] || export GOCACHE="$here/.build/go-cache"
  (cd "$here" && GOPROXY=off go build -o "$bin" ./examples/e2e) >&2
fi
exec "$bin" "$@"
