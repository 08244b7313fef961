#!/usr/bin/env bash
# `make bench`: the benchmarks that print figures (they assert nothing about speed). Starts the
# AWS emulator for the ones that count AWS calls, and stops it afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_moto EXIT INT TERM
start_moto "$(free_port)" "$ROOT/.venv/moto-bench.log"
cargo bench -p keyhook-tests "$@"
