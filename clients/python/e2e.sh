#!/usr/bin/env bash
# The cross-language end-to-end script, Python (tests/clients_e2e.rs runs every language's
# e2e.sh and compares their lines): e2e.sh online|offline|rollback|seats. Runs examples/e2e.py with the
# package from src/ and the project's Python environment (.venv/py-client: `cryptography`),
# which make test installs; fails when it is missing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${KEYHOOK_PYTHON:-$HERE/../../.venv/py-client/bin/python}"
if [ ! -x "$PYTHON" ] || ! "$PYTHON" -c 'import cryptography' 2>/dev/null; then
  echo "clients/python/e2e.sh: no Python with cryptography at $PYTHON (make test installs it: ensure_py_client in scripts/lib.sh)" >&2
  exit 127
fi
PYTHONPATH="$HERE/src" exec "$PYTHON" "$HERE/examples/e2e.py" "$@"
