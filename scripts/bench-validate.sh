#!/usr/bin/env bash
# Benchmark of the Validation API (docs/validation.md, "Measured"): starts the AWS emulator on a
# free loopback port, runs the bench target in release mode, stops the emulator.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
MOTO_PORT="$(free_port)"
trap stop_moto EXIT INT TERM
start_moto "$MOTO_PORT" "$ROOT/.venv/moto-bench.log"
cargo bench -p keyhook-tests --bench validate
