#!/usr/bin/env bash
# `make bench-deploy`: figures for docs/deploy.md. Builds every function and a hello-world
# `lambda_runtime` binary the same way (the release profile: cargo lambda build --release --arm64
# for what is deployed, cargo build --release for this machine), then prints
#   - per binary: release size and zip size (arm64, what `sam deploy` uploads; x86_64 too);
#   - cold start: process start -> first `next` on a local Lambda Runtime API, median of RUNS,
#     next to hello-lambda's (the ratio is the figure), on this machine's arch (x86_64 here:
#     arm64 binaries cannot run on it);
#   - peak RSS after N invocations of a real request against the emulator (moto).
# N=100 RUNS=20 by default (moto slows down as a run's transactions pile up: 1,000 webhook
# invocations take far too long): `N=20 make bench-deploy` for a quicker look; N=0 measures cold
# starts only (what `make bench` runs). Sizes and cold starts are also written as figures for
# the table `make bench` ends with (tests/bench_summary.rs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

N="${N:-100}"
RUNS="${RUNS:-20}"
BINARIES=(hello-lambda keyhook-webhook keyhook-checkout keyhook-validate keyhook-admin keyhook-docs keyhook-pages keyhook-mailer keyhook-deliveries keyhook-reconcile)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# KEYHOOK_BENCH_PHASES: a file to which each part's wall time is written ("name|seconds"),
# for the per-phase table `make bench` ends with.
PHASES_FILE="${KEYHOOK_BENCH_PHASES:-/dev/null}"
: >"$PHASES_FILE"
part_start=$SECONDS
part() {
  echo "$1|$((SECONDS - part_start))" >>"$PHASES_FILE"
  part_start=$SECONDS
}

PATH="$(ensure_cargo_lambda):$PATH"
export PATH
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

args=()
for b in "${BINARIES[@]}"; do args+=(--bin "$b"); done
# The arm64 build gives the zip sizes only (it cannot run here). KEYHOOK_BENCH_SIZES: `build`
# (the default) builds it; `reuse` (what `make bench` passes) takes the binaries already in
# $TARGET/lambda when every one is newer than the sources and manifests, else builds; `skip`
# leaves the sizes out.
arm64_is_fresh() {
  local b oldest=""
  for b in "${BINARIES[@]}"; do
    [ -f "$TARGET/lambda/$b/bootstrap" ] || return 1
    if [ -z "$oldest" ] || [ "$TARGET/lambda/$b/bootstrap" -ot "$oldest" ]; then
      oldest="$TARGET/lambda/$b/bootstrap"
    fi
  done
  [ -z "$(find Cargo.toml Cargo.lock shared functions clients/format bench -newer "$oldest" -type f -print -quit)" ]
}
case "${KEYHOOK_BENCH_SIZES:-build}" in
  skip) log "arm64 build skipped (KEYHOOK_BENCH_SIZES=skip): no zip sizes in this run" ;;
  reuse)
    if arm64_is_fresh; then
      log "arm64 release build reused (newer than every source file)"
    else
      log "cargo lambda build --release --arm64 (what is deployed; none newer than the sources)"
      cargo lambda build --release --arm64 --lambda-dir "$TARGET/lambda" "${args[@]}"
    fi ;;
  build)
    log "cargo lambda build --release --arm64 (what is deployed)"
    cargo lambda build --release --arm64 --lambda-dir "$TARGET/lambda" "${args[@]}" ;;
  *) echo "KEYHOOK_BENCH_SIZES is build, reuse or skip" >&2; exit 2 ;;
esac
part "arm64 release build of the functions (sizes; cargo lambda)"
host="$(uname -m)"
if [ "$host" = aarch64 ]; then
  run_dir="$TARGET/lambda"
else
  # Plain `cargo build --release` for this machine (same profile, same code; it shares cargo's
  # cache with `cargo bench`, where a cargo-lambda x86_64 build would be a third full build).
  log "cargo build --release for this machine ($host), to run here"
  run_dir="$TARGET/lambda-x86_64"
  cargo build --release "${args[@]}"
  for b in "${BINARIES[@]}"; do
    mkdir -p "$run_dir/$b"
    cp "$TARGET/release/$b" "$run_dir/$b/bootstrap"
  done
fi
part "$host release build of the functions (cold starts)"

log "sizes"
FIGURES="${KEYHOOK_BENCH_FIGURES:-$TARGET/bench-figures}"
mkdir -p "$FIGURES"
arm_dir="$TARGET/lambda"
[ "${KEYHOOK_BENCH_SIZES:-build}" = skip ] && arm_dir="$TARGET/no-arm64-build"
python3 - "$arm_dir" "$TARGET/lambda-x86_64" "$FIGURES/sizes.json" "${BINARIES[@]}" <<'PY'
import io, json, os, sys, zipfile
arm, x86, out, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def sizes(d, n):
    p = os.path.join(d, n, "bootstrap")
    if not os.path.exists(p):
        return None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:  # as SAM zips a function
        z.write(p, "bootstrap")
    return os.path.getsize(p), len(buf.getvalue())
mb = lambda b: f"{b / 1048576:.2f} MB"
print("\n| binary | arm64 binary | arm64 zip | x86_64 binary | x86_64 zip |")
print("|---|---|---|---|---|")
figures = {}
for n in names:
    a, x = sizes(arm, n), sizes(x86, n)
    cell = lambda s, i: mb(s[i]) if s else "-"
    print(f"| {n} | {cell(a,0)} | {cell(a,1)} | {cell(x,0)} | {cell(x,1)} |")
    figures[n] = {k: v for k, v in [("arm64_binary", a and a[0]), ("arm64_zip", a and a[1]),
                                    ("x86_64_binary", x and x[0]), ("x86_64_zip", x and x[1])] if v}
# For the table `make bench` ends with (tests/bench_summary.rs).
with open(out, "w") as f:
    json.dump(figures, f, indent=2)
PY

MOTO_PORT="$(free_port)"
trap stop_moto EXIT INT TERM
start_moto "$MOTO_PORT" "$ROOT/.venv/moto-bench.log"
log "cold starts ($RUNS runs each) and peak RSS after $N invocations ($host)"
cargo run --quiet -p keyhook-tests --bin bench-deploy -- "$run_dir" "$N" "$RUNS"
part "cold starts (${RUNS} runs each) and peak RSS after ${N} invocations"
