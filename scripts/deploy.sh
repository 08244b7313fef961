#!/usr/bin/env bash
# `make deploy`: `sam build && sam deploy` with the project's own tools (SAM CLI and
# cargo-lambda from PyPI, each in its own virtualenv under .venv/), settings from samconfig.toml.
# Needs AWS credentials in the environment (or a profile: AWS_PROFILE=...). Arguments go to
# `sam deploy`, e.g. --config-env dev, or --parameter-overrides SenderAddress=you@example.com.
set -euo pipefail
# lib.sh fills in the emulator's dummy credentials and region when none are set: remember what
# the caller had, so a real deployment uses the caller's credentials (or profile) only.
had_key="${AWS_ACCESS_KEY_ID:+1}"
had_region="${AWS_REGION:+1}"
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ -n "$had_key" ] || unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
[ -n "$had_region" ] || unset AWS_REGION AWS_DEFAULT_REGION
unset AWS_ENDPOINT_URL AWS_EC2_METADATA_DISABLED
# cargo-lambda first: it finds its zig through `python3 -m ziglang`, i.e. its own python3.
PATH="$(ensure_cargo_lambda):$(ensure_sam):$PATH"
export PATH SAM_CLI_TELEMETRY=0
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
config_env=default
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = --config-env ]; then j=$((i + 1)); config_env="${!j}"; fi
done
log "sam build (config env $config_env)"
sam build --config-env "$config_env"
log "sam deploy $*"
sam deploy "$@"
