#!/usr/bin/env bash
# `make deploy-check`: what can be checked about the deployment without an AWS account.
#   1. cfn-lint on infra/template.yaml                 (its own virtualenv, from PyPI)
#   2. sam validate --lint                             (aws-sam-cli, its own virtualenv)
#   3. the build of every function for Lambda, and `sam build` (cargo-lambda from PyPI, arm64)
# Steps can be chosen: deploy-check.sh lint | build. `make test` runs both (scripts/test.sh),
# the build with KEYHOOK_LAMBDA_PROFILE=dev: the same cross build and `sam build` (in its debug
# mode) without the release profile's optimisation and whole-program LTO (about 14 of make
# test's minutes on 2 cores): same code, target, linker and SAM build. The release profile
# itself is built by `make deploy-check`, `make bench-deploy` and `make deploy`.
# The template's agreement with the code (routes, table, queues, permissions) is a Rust test:
# tests/template.rs. The functions running on a Lambda Runtime API: tests/lambda_runtime.rs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

TEMPLATE=infra/template.yaml
FUNCTIONS=(keyhook-webhook keyhook-checkout keyhook-validate keyhook-admin keyhook-docs keyhook-pages keyhook-mailer keyhook-deliveries keyhook-reconcile)
STEPS="${1:-all}"

lint() {
  local bin
  bin="$(ensure_cfn_lint)"
  log "cfn-lint $TEMPLATE"
  "$bin/cfn-lint" "$TEMPLATE"

  bin="$(ensure_sam)"
  log "sam validate --lint $TEMPLATE"
  # Offline: no credentials needed, region only names the rules' region.
  SAM_CLI_TELEMETRY=0 "$bin/sam" validate --lint --region us-east-1 --template-file "$TEMPLATE" >/dev/null
}

# The ELF machine of a binary: aarch64 or x86_64.
elf_machine() {
  python3 - "$1" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    head = f.read(20)
assert head[:4] == b"\x7fELF", "not an ELF binary"
machine = struct.unpack("<H", head[18:20])[0]
print({0xB7: "aarch64", 0x3E: "x86_64"}.get(machine, hex(machine)))
EOF
}

build() {
  local bin arch_flag=--arm64 machine=aarch64 profile="${KEYHOOK_LAMBDA_PROFILE:-release}"
  local release_flag=() sam_mode=()
  case "$profile" in
    release) release_flag=(--release) ;;
    dev) sam_mode=(SAM_BUILD_MODE=debug) ;;
    *) echo "KEYHOOK_LAMBDA_PROFILE is release or dev, not $profile" >&2; exit 2 ;;
  esac
  bin="$(ensure_cargo_lambda)"
  export PATH="$bin:$PATH"
  # Lambda's arm64 target. cargo-lambda links with its bundled zig, so only Rust's standard
  # library for the target is needed.
  if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    log "rustup target add aarch64-unknown-linux-gnu"
    if ! ensure_arm64_target; then
      echo "WARNING: the arm64 target cannot be installed here; building for x86_64 instead." >&2
      echo "WARNING: set Architectures: [x86_64] in $TEMPLATE to deploy this build." >&2
      arch_flag=--x86-64
      machine=x86_64
    fi
  fi
  local args=()
  for f in "${FUNCTIONS[@]}"; do args+=(--bin "$f"); done
  log "cargo lambda build ${release_flag[*]:-(dev profile)} $arch_flag (${FUNCTIONS[*]})"
  cargo lambda build "${release_flag[@]}" "$arch_flag" "${args[@]}"
  local dir="${CARGO_TARGET_DIR:-$ROOT/target}/lambda"
  for f in "${FUNCTIONS[@]}"; do
    local boot="$dir/$f/bootstrap"
    [ -x "$boot" ] || { echo "missing $boot" >&2; exit 1; }
    local m
    m="$(elf_machine "$boot")"
    [ "$m" = "$machine" ] || { echo "$boot is $m, expected $machine" >&2; exit 1; }
    awk -v f="$f" -v m="$m" -v b="$(stat -c %s "$boot")" 'BEGIN { printf "  %-18s %s  %6.1f MB\n", f, m, b / 1048576 }' >&2
  done

  # `sam build` itself, as a deployer runs it (BuildMethod rust-cargolambda, per-function
  # binaries; SAM_BUILD_MODE=debug with the dev profile): cargo's cache from the build above
  # makes it take seconds.
  if [ "$machine" = aarch64 ]; then
    local sam_bin out="${CARGO_TARGET_DIR:-$ROOT/target}/sam-build"
    sam_bin="$(ensure_sam)"
    log "sam build ${sam_mode[*]} (into $out)"
    # cargo-lambda's venv stays first on PATH: it finds zig through its own python3.
    env "${sam_mode[@]}" SAM_CLI_TELEMETRY=0 "$sam_bin/sam" build --template-file "$TEMPLATE" --build-dir "$out" >/dev/null
    for fn in WebhookFunction CheckoutFunction ValidateFunction AdminFunction MailerFunction DeliveriesFunction ReconcileFunction; do
      [ "$(elf_machine "$out/$fn/bootstrap")" = aarch64 ] || { echo "sam build: $fn is not arm64" >&2; exit 1; }
    done
  fi
}

case "$STEPS" in
  all) lint; build ;;
  lint) lint ;;
  build) build ;;
  *) echo "usage: $0 [all|lint|build]" >&2; exit 2 ;;
esac
log "deployment checks passed ($STEPS)"
