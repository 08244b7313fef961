#!/usr/bin/env bash
# The cross-language end-to-end script, TypeScript (tests/clients_e2e.rs runs every language's
# e2e.sh and compares their lines): e2e.sh online|offline|rollback|seats. Compiles the package when a
# source is newer than its build (the TypeScript compiler from node_modules, which make test
# installs with Node), then runs examples/e2e.ts on Node; fails when either is missing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v node >/dev/null 2>&1 || ! node -e 'process.exit(typeof fetch === "function" ? 0 : 1)'; then
  echo "clients/typescript/e2e.sh: no Node 18 or later (make test installs it: ensure_node in scripts/lib.sh)" >&2
  exit 127
fi
BUILT="$HERE/dist/examples/e2e.js"
if [ ! -f "$BUILT" ] || [ -n "$(find "$HERE/src" "$HERE/examples" -name '*.ts' -newer "$BUILT" | head -1)" ]; then
  if [ ! -x "$HERE/node_modules/.bin/tsc" ]; then
    echo "clients/typescript/e2e.sh: no TypeScript compiler in clients/typescript/node_modules (make test installs it: ensure_node in scripts/lib.sh)" >&2
    exit 127
  fi
  (cd "$HERE" && node_modules/.bin/tsc -p . >&2)
fi
exec node "$BUILT" "$@"
