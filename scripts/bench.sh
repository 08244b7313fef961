#!/usr/bin/env bash
# `make bench`: the benchmarks that print figures (they assert nothing about speed), then one
# table of issue 17's figures against their targets (tests/bench_summary.rs), computed from what
# this run measured. Starts the AWS emulator for the benchmarks that count AWS calls, and stops
# it afterwards. The cold starts and zip sizes come from the release builds
# (scripts/bench-deploy.sh with N=0: cold starts only; the first run builds both architectures,
# later runs reuse cargo's cache); KEYHOOK_BENCH_SKIP_DEPLOY=1 skips them (the table then says
# "not measured").
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export KEYHOOK_BENCH_FIGURES="${KEYHOOK_BENCH_FIGURES:-${CARGO_TARGET_DIR:-$ROOT/target}/bench-figures}"
rm -rf "$KEYHOOK_BENCH_FIGURES"
(
  trap stop_moto EXIT INT TERM
  start_moto "$(free_port)" "$ROOT/.venv/moto-bench.log"
  cargo bench -p keyhook-tests "$@"
)
# Offline verification in the other languages, on the same vectors (`--bench NAME` skips them):
# CPU time per signed answer, per license file and per encrypted license file.
if [ $# -eq 0 ]; then
  log "offline verification, Rust, Python, TypeScript, Go and Java"
  cargo bench -p keyhook-format --bench offline
  PY_CLIENT_BIN="$(ensure_py_client)"
  (cd "$ROOT/clients/python" && PYTHONPATH=src "$PY_CLIENT_BIN/python" tests/bench.py)
  ensure_node
  (cd "$ROOT/clients/typescript" && npm run --silent bench)
  # Go: go test's benchmarks, one OS thread (CPU per check in µs-CPU/check, wall in ns/op).
  ensure_go
  (cd "$ROOT/clients/go" && GOMAXPROCS=1 GOPROXY=off go test -run '^$' -bench . -benchtime 5000x)
  ensure_java
  "$ROOT/clients/java/jdk-build.sh" bench
fi
if [ "${KEYHOOK_BENCH_SKIP_DEPLOY:-}" != 1 ]; then
  N=0 RUNS="${RUNS:-20}" "$ROOT/scripts/bench-deploy.sh"
fi
cargo run --quiet -p keyhook-tests --bin bench-summary
