#!/usr/bin/env bash
# `make bench`: the benchmarks that print figures (they assert nothing about speed). Starts the
# AWS emulator for the ones that count AWS calls, and stops it afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_moto EXIT INT TERM
start_moto "$(free_port)" "$ROOT/.venv/moto-bench.log"
cargo bench -p keyhook-tests "$@"

# Offline verification in the other languages, on the same vectors (`--bench NAME` skips them).
if [ $# -eq 0 ]; then
  log "offline verification, Rust, Python and TypeScript"
  cargo bench -p keyhook-format --bench offline
  PY_VERIFIER_BIN="$(ensure_py_verifier)"
  (cd "$ROOT/clients/python" && "$PY_VERIFIER_BIN/python" test_vectors.py bench)
  ensure_node
  (cd "$ROOT/clients/typescript" && npm run --silent bench)
fi
