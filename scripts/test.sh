#!/usr/bin/env bash
# `make test`: every test of the workspace. Installs and starts what the tests need (moto on a
# free loopback port), runs format, lint and all tests, and stops what it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

log "checking formatting"
cargo fmt --all --check

MOTO_PORT="$(free_port)"
trap stop_moto EXIT INT TERM
start_moto "$MOTO_PORT" "$ROOT/.venv/moto-test.log"

log "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "running every test against the emulator at $AWS_ENDPOINT_URL"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  # nextest does not run doc tests
  cargo test --workspace --doc --quiet
else
  cargo test --workspace --no-fail-fast
fi
