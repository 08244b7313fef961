#!/usr/bin/env bash
# `make dev`: the whole of Keyhook on this machine. Starts the AWS emulator (moto) on loopback,
# then `keyhook dev`, which provisions the table, KMS key, queues and SES identity, seeds a
# demo tenant, serves every route on one port and runs the mailer. Ctrl-C stops both.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

MOTO_PORT="${KEYHOOK_MOTO_PORT:-5055}"
trap stop_moto EXIT INT TERM
start_moto "$MOTO_PORT"

log "building keyhook"
cargo build --quiet -p keyhook-cli
export KEYHOOK_ADDR="${KEYHOOK_ADDR:-127.0.0.1:8080}"
"$ROOT/target/debug/keyhook" dev
