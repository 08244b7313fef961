#!/usr/bin/env bash
# The API document against the running code (part of `make test`): starts Keyhook on a free
# port against the emulator (moto: the test run's, or one of its own) with a fake Stripe,
# seeds a tenant, an API token and data the requests can name, then
#   1. generates a Python client from /openapi.json (openapi-python-client) and runs a short
#      merchant script with it (tests/openapi/client_check.py): the document works as-is;
#   2. runs schemathesis against /openapi.json with every check, a fixed seed and a bounded
#      number of examples (tests/openapi/schemathesis.toml; KEYHOOK_FUZZ_EXAMPLES per
#      operation, 10 by default; KEYHOOK_FUZZ=0 skips it). Any failure fails the step.
# Stops what it started. Tools go into their own virtualenvs under .venv/ (scripts/lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/keyhook-api-check.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  stop_moto
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  start_moto "$(free_port)" "$WORK/moto.log"
fi

if [ "${KEYHOOK_FUZZ:-1}" = 1 ]; then
  ensure_tool_venv schemathesis schemathesis "$SCHEMATHESIS_VERSION"
fi
ensure_tool_venv openapi-python-client openapi-python-client "$OPENAPI_PYTHON_CLIENT_VERSION"

# scripts/test.sh has built it (KEYHOOK_PREBUILT=1) and runs this beside the arm64 build, which
# holds cargo's build lock.
if [ "${KEYHOOK_PREBUILT:-}" != 1 ]; then
  log "building keyhook"
  cargo build --quiet -p keyhook-cli
fi

STRIPE_PORT="$(free_port)"
python3 "$ROOT/tests/openapi/fake_stripe.py" "$STRIPE_PORT" &
PIDS+=("$!")

# Its own table, key, queues: nothing shared with the tests running on the same emulator.
PORT="$(free_port)"
NAME="keyhook-api-check-$PORT"
KEYHOOK_STRIPE_API_BASE="http://127.0.0.1:$STRIPE_PORT" \
KEYHOOK_DEMO_OWNER="owner@api-check.example.com" \
  "$ROOT/target/debug/keyhook" dev --addr "127.0.0.1:$PORT" \
    --table "$NAME" --kms-alias "alias/$NAME" --queue "$NAME-mail" \
    --delivery-queue "$NAME-deliveries" --env-file "$WORK/dev.env" >"$WORK/keyhook.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 300); do
  [ -s "$WORK/dev.env" ] && break
  if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then cat "$WORK/keyhook.log" >&2; exit 1; fi
  sleep 0.2
done
set -a; . "$WORK/dev.env"; set +a
log "Keyhook is up at $KEYHOOK_URL (fake Stripe on port $STRIPE_PORT)"

log "openapi-python-client $OPENAPI_PYTHON_CLIENT_VERSION: a client from $KEYHOOK_URL/openapi.json"
python3 -c "import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())" \
  "$KEYHOOK_URL/openapi.json" >"$WORK/openapi.json"
# Warnings fail the step too: a document the generator only half reads is not usable as-is.
"$ROOT/.venv/openapi-python-client/bin/openapi-python-client" generate \
  --path "$WORK/openapi.json" --config "$ROOT/tests/openapi/client-config.yaml" \
  --meta none --output-path "$WORK/keyhook_api_client" >"$WORK/generate.log" 2>&1 \
  || { cat "$WORK/generate.log" >&2; exit 1; }
if grep -q -i "warning" "$WORK/generate.log"; then
  cat "$WORK/generate.log" >&2
  echo "openapi-python-client warned about the document" >&2
  exit 1
fi
PYTHONPATH="$WORK" "$ROOT/.venv/openapi-python-client/bin/python" "$ROOT/tests/openapi/client_check.py"

if [ "${KEYHOOK_FUZZ:-1}" != 1 ]; then
  log "skipping schemathesis (KEYHOOK_FUZZ=0)"
  exit 0
fi

log "schemathesis $SCHEMATHESIS_VERSION against $KEYHOOK_URL/openapi.json"
started=$SECONDS
# The dashboard's and the customer portal's pages (HTML for people) are not in the document;
# tests/dashboard.rs, tests/portal.rs and tests/browser.rs fuzz and drive them.
"$ROOT/.venv/schemathesis/bin/schemathesis" --config-file "$ROOT/tests/openapi/schemathesis.toml" \
  run "$KEYHOOK_URL/openapi.json" \
  --url "$KEYHOOK_URL" \
  --max-examples "${KEYHOOK_FUZZ_EXAMPLES:-10}" \
  --header "Authorization: Bearer $KEYHOOK_TOKEN" \
  --workers 2 \
  --no-color ${KEYHOOK_FUZZ_ARGS:-} | tee "$WORK/schemathesis.log"
log "schemathesis: $((SECONDS - started)) s"
