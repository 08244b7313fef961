#!/usr/bin/env bash
# `make test`: every test of the workspace. Installs and starts what the tests need (moto on a
# free loopback port), runs format, lint and all tests, and stops what it started.
#
# The machine has 2 cores, so steps that wait on something else run beside those that compile:
# the downloads (tool virtualenvs, Chromium, Node, Go, the JDK) beside clippy, and the API checks
# (bound by the emulator and the network stack) beside the arm64 build. Each step's log line
# carries the wall clock; the README gives the figures.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mkdir -p "$ROOT/.venv"

BACKGROUND=()
stop_background() {
  for pid in "${BACKGROUND[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  stop_moto
}
trap stop_background EXIT INT TERM

# wait_for NAME PID LOG: waits for a background step; prints its log, and fails with it.
wait_for() {
  local name="$1" pid="$2" logfile="$3" rc=0
  wait "$pid" || rc=$?
  cat "$logfile" >&2
  if [ "$rc" != 0 ]; then
    echo "$name failed (exit $rc)" >&2
    exit "$rc"
  fi
  log "$name: done"
}

log "checking formatting"
cargo fmt --all --check

TOOLS_LOG="$ROOT/.venv/test-tools.log"
log "installing the test tools in the background (virtualenvs, Chromium, Node, Go, JDK; $TOOLS_LOG)"
ensure_test_tools >"$TOOLS_LOG" 2>&1 &
TOOLS_PID=$!
BACKGROUND+=("$TOOLS_PID")

log "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

# The function binaries themselves: tests/lambda_runtime.rs runs them on a local Lambda
# Runtime API (cargo test alone builds only test harnesses for binary crates).
log "building the function binaries"
cargo build --workspace --bins --quiet

wait_for "installing the test tools" "$TOOLS_PID" "$TOOLS_LOG"

# The SAM template: cfn-lint and sam validate (seconds).
"$ROOT/scripts/deploy-check.sh" lint

MOTO_PORT="$(free_port)"
start_moto "$MOTO_PORT" "$ROOT/.venv/moto-test.log"

# The client libraries' own tests: the shared test vectors, and each client against a small
# signing Keyhook of its own (seconds each). Their end-to-end run against the real stack, with
# every language compared to the Rust client, is tests/clients_e2e.rs below.
log "Python client (clients/python): vectors and unit tests"
PY_CLIENT_BIN="$(ensure_py_client)"
(cd "$ROOT/clients/python" && PYTHONPATH=src "$PY_CLIENT_BIN/python" -m unittest discover -s tests)
log "TypeScript client (clients/typescript): vectors and unit tests"
ensure_node
(cd "$ROOT/clients/typescript" && npm test --silent >"$ROOT/.venv/typescript-client-tests.log" 2>&1) \
  || { cat "$ROOT/.venv/typescript-client-tests.log" >&2; exit 1; }
grep -E '^# (tests|pass|fail) ' "$ROOT/.venv/typescript-client-tests.log" >&2
# The Go and Java clients: their unit tests (a fake Keyhook for the online paths) and the vectors.
log "Go client (clients/go): unit tests and clients/test-vectors"
(cd "$ROOT/clients/go" && GOPROXY=off go test -count=1 ./...)
log "Java client (clients/java, JDK only): unit tests and clients/test-vectors"
"$ROOT/clients/java/jdk-build.sh" test | grep -v '^ok '

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
# (KEYHOOK_FUZZ=0 skips it). Its own Keyhook on a free port, against this run's moto; beside
# the arm64 build (it uses the keyhook binary built above, so it needs no cargo lock).
API_LOG="$ROOT/.venv/api-check.log"
log "the OpenAPI document against the local stack, in the background (scripts/api-check.sh; $API_LOG)"
KEYHOOK_PREBUILT=1 "$ROOT/scripts/api-check.sh" >"$API_LOG" 2>&1 &
API_PID=$!
BACKGROUND+=("$API_PID")

# Every function built for Lambda (arm64, cargo-lambda) and `sam build`, in the dev profile
# (scripts/deploy-check.sh says why). KEYHOOK_SKIP_LAMBDA_BUILD=1 skips it locally;
# KEYHOOK_LAMBDA_PROFILE=release builds what is deployed.
if [ "${KEYHOOK_SKIP_LAMBDA_BUILD:-}" = 1 ]; then
  log "skipping the Lambda build (KEYHOOK_SKIP_LAMBDA_BUILD=1)"
else
  KEYHOOK_LAMBDA_PROFILE="${KEYHOOK_LAMBDA_PROFILE:-dev}" "$ROOT/scripts/deploy-check.sh" build
fi

wait_for "the OpenAPI checks" "$API_PID" "$API_LOG"
log "every step passed"
