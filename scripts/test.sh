#!/usr/bin/env bash
# `make test`: every test of the workspace. Installs and starts what the tests need (moto on a
# free loopback port), runs format, lint and all tests, and stops what it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

log "checking formatting"
cargo fmt --all --check

# The SAM template: cfn-lint and sam validate (seconds; each tool in its own virtualenv).
"$ROOT/scripts/deploy-check.sh" lint

# The dashboard's browser suite (tests/browser.rs) drives Debian's Chromium over WebDriver.
ensure_chromium

MOTO_PORT="$(free_port)"
trap stop_moto EXIT INT TERM
start_moto "$MOTO_PORT" "$ROOT/.venv/moto-test.log"

# The Python and TypeScript verifiers against the shared test vectors (seconds).
log "Python verifier (clients/python) against clients/test-vectors"
PY_VERIFIER_BIN="$(ensure_py_verifier)"
(cd "$ROOT/clients/python" && "$PY_VERIFIER_BIN/python" -m unittest -v test_vectors)
log "TypeScript verifier (clients/typescript) against clients/test-vectors"
ensure_node
(cd "$ROOT/clients/typescript" && npm test --silent)

log "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

# The function binaries themselves: tests/lambda_runtime.rs runs them on a local Lambda
# Runtime API (cargo test alone builds only test harnesses for binary crates).
log "building the function binaries"
cargo build --workspace --bins --quiet

log "running every test against the emulator at $AWS_ENDPOINT_URL"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  # nextest does not run doc tests
  cargo test --workspace --doc --quiet
else
  cargo test --workspace --no-fail-fast
fi

# The API document against the running code: a Python client generated from /openapi.json
# runs a merchant's script on the local stack, then schemathesis fuzzes every API operation
# (KEYHOOK_FUZZ=0 skips it). Its own Keyhook on a free port, against this run's moto.
log "the OpenAPI document against the local stack (scripts/api-check.sh)"
"$ROOT/scripts/api-check.sh"

# The release build of every function for Lambda (arm64, cargo-lambda): last, as it is the
# longest step (about 8 minutes cold on 2 cores). KEYHOOK_SKIP_LAMBDA_BUILD=1 skips it locally.
if [ "${KEYHOOK_SKIP_LAMBDA_BUILD:-}" = 1 ]; then
  log "skipping the Lambda release build (KEYHOOK_SKIP_LAMBDA_BUILD=1)"
else
  "$ROOT/scripts/deploy-check.sh" build
fi
