#!/usr/bin/env bash
# `make bench`: the benchmarks that print figures (they assert nothing about speed), then one
# table of issues 17 and 33's figures against their targets (tests/bench_summary.rs), computed
# from what this run measured. Starts the AWS emulator for the benchmarks that count AWS calls,
# and stops it afterwards. Stripe's own Python library (`construct_event`) is timed on the
# payloads the purchase benchmark verified, as the reference of verify + parse. The cold starts
# and zip sizes come from the release builds (scripts/bench-deploy.sh with N=0: cold starts
# only, on an x86_64 build; the arm64 build for the zip sizes is reused when it is newer than
# the sources, KEYHOOK_BENCH_SIZES=build forces it, =skip leaves sizes out);
# KEYHOOK_BENCH_SKIP_DEPLOY=1 skips both (the table then says "not measured"). Each phase's
# wall time is printed at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export KEYHOOK_BENCH_FIGURES="${KEYHOOK_BENCH_FIGURES:-${CARGO_TARGET_DIR:-$ROOT/target}/bench-figures}"
rm -rf "$KEYHOOK_BENCH_FIGURES"
# What each phase costs: name and seconds, printed at the end.
PHASES=()
phase_start=$SECONDS
phase() {
  PHASES+=("$1|$((SECONDS - phase_start))")
  phase_start=$SECONDS
}
# The benchmarks are one binary (tests/benches/main.rs): one release link with fat LTO.
cargo bench -p keyhook-tests --no-run
phase "release build of the benchmarks (tests/benches, one binary)"
(
  trap stop_moto EXIT INT TERM
  start_moto "$(free_port)" "$ROOT/.venv/moto-bench.log"
  cargo bench -p keyhook-tests -- "$@"
)
phase "benchmarks run against the emulator ${*:-(all)}"
# Stripe's library on the same payloads, when the purchase benchmark ran.
if [ -f "$KEYHOOK_BENCH_FIGURES/verify-small.body" ]; then
  log "stripe-python: construct_event on the purchase benchmark's payloads"
  STRIPE_BIN="$(ensure_stripe_python)"
  "$STRIPE_BIN/python" "$ROOT/scripts/stripe_verify_bench.py" "$KEYHOOK_BENCH_FIGURES"
  phase "stripe-python reference"
fi
# Offline verification in the other languages, on the same vectors (naming benchmarks,
# `./scripts/bench.sh validate`, skips them):
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
  phase "offline verification, five languages"
fi
if [ "${KEYHOOK_BENCH_SKIP_DEPLOY:-}" != 1 ]; then
  N=0 RUNS="${RUNS:-20}" KEYHOOK_BENCH_SIZES="${KEYHOOK_BENCH_SIZES:-reuse}" \
    KEYHOOK_BENCH_PHASES="$KEYHOOK_BENCH_FIGURES/deploy-phases" "$ROOT/scripts/bench-deploy.sh"
  # Its parts, as it timed them.
  while IFS= read -r line; do PHASES+=("$line"); done <"$KEYHOOK_BENCH_FIGURES/deploy-phases"
  phase_start=$SECONDS
fi
# The whole run's wall time so far, for the table's `make bench` row (a run of named
# benchmarks is not the whole: no figure then).
if [ $# -eq 0 ] && [ "${KEYHOOK_BENCH_SKIP_DEPLOY:-}" != 1 ]; then
  export KEYHOOK_BENCH_WALL_SECONDS=$SECONDS
fi
cargo run --quiet -p keyhook-tests --bin bench-summary
phase "summary"
echo
echo "Wall time per phase (this run):"
total=0
for p in "${PHASES[@]}"; do
  printf '  %-70s %4d min %02d s\n' "${p%|*}" $((${p##*|} / 60)) $((${p##*|} % 60))
  total=$((total + ${p##*|}))
done
printf '  %-70s %4d min %02d s\n' "total" $((total / 60)) $((total % 60))
