# Shared by the scripts: the project's tool virtualenvs and the AWS emulator (moto, server mode).
# Everything is installed by these scripts into .venv/ (git-ignored); nothing is assumed present.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOTO_VENV="${MOTO_VENV:-$ROOT/.venv/moto}"
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"

# Emulator credentials and region: dummy values, the emulator accepts any.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_EC2_METADATA_DISABLED=true

# Each step's line carries the wall clock, so a slow step shows in any run's output.
log() { printf '\033[1;34m==>\033[0m [%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Creates the moto virtualenv once (about a minute the first time).
ensure_moto() {
  if [ -x "$MOTO_VENV/bin/python" ] && "$MOTO_VENV/bin/python" -c "import moto, sys; sys.exit(0 if moto.__version__ == '$MOTO_VERSION' else 1)" 2>/dev/null; then
    return 0
  fi
  log "installing moto $MOTO_VERSION into $MOTO_VENV"
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install --quiet "moto[server]==$MOTO_VERSION"
}

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts moto on 127.0.0.1:$1 in the background, waits until it answers, sets MOTO_PID and
# AWS_ENDPOINT_URL.
start_moto() {
  local port="$1" logfile="${2:-$ROOT/.venv/moto-$1.log}"
  ensure_moto
  # Through our launcher: moto's server with DynamoDB operations made linearizable.
  "$MOTO_VENV/bin/python" "$ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  MOTO_PID=$!
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT_URL/moto-api/', timeout=1)" 2>/dev/null; then
      log "moto is up at $AWS_ENDPOINT_URL (pid $MOTO_PID)"
      return 0
    fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      cat "$logfile" >&2
      echo "moto failed to start" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "moto did not answer on $AWS_ENDPOINT_URL" >&2
  return 1
}

# Stops it: SIGTERM, then SIGKILL after 5 s (moto can take half a minute to finish the requests
# it still holds, and its state is thrown away anyway).
stop_moto() {
  if [ -n "${MOTO_PID:-}" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$MOTO_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}

# Deployment tool virtualenvs, one each: aws-sam-cli pins versions that clash with moto, so no
# two tools share an environment. Pinned so CI and every developer run the same tools.
CARGO_LAMBDA_VERSION="${CARGO_LAMBDA_VERSION:-1.9.2}"
CFN_LINT_VERSION="${CFN_LINT_VERSION:-1.58.0}"
SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
# The API document's checks (scripts/api-check.sh).
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
OPENAPI_PYTHON_CLIENT_VERSION="${OPENAPI_PYTHON_CLIENT_VERSION:-0.29.1}"

# ensure_tool_venv NAME PACKAGE VERSION: .venv/NAME with PACKAGE==VERSION, created once. The
# marker names the path too: a virtualenv's scripts start with its path, so one made through
# another path (a git worktree whose .venv links here) is made again rather than left broken.
ensure_tool_venv() {
  local name="$1" package="$2" version="$3" venv="$ROOT/.venv/$1"
  if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$package==$version at $venv" ]; then
    return 0
  fi
  log "installing $package $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$package==$version"
  echo "$package==$version at $venv" >"$venv/.installed"
}

# cargo-lambda (with its bundled zig) from PyPI; prints the venv's bin directory.
ensure_cargo_lambda() {
  ensure_tool_venv cargo-lambda cargo-lambda "$CARGO_LAMBDA_VERSION"
  echo "$ROOT/.venv/cargo-lambda/bin"
}

ensure_cfn_lint() {
  ensure_tool_venv cfn-lint cfn-lint "$CFN_LINT_VERSION"
  echo "$ROOT/.venv/cfn-lint/bin"
}

ensure_sam() {
  ensure_tool_venv sam aws-sam-cli "$SAM_CLI_VERSION"
  echo "$ROOT/.venv/sam/bin"
}

# The Python client's environment (clients/python, its one dependency: `cryptography`); the
# client itself runs from clients/python/src (its tests and e2e.sh set PYTHONPATH).
PY_CLIENT_CRYPTOGRAPHY_VERSION="${PY_CLIENT_CRYPTOGRAPHY_VERSION:-50.0.2}"
ensure_py_client() {
  ensure_tool_venv py-client cryptography "$PY_CLIENT_CRYPTOGRAPHY_VERSION"
  echo "$ROOT/.venv/py-client/bin"
}

# Stripe's own Python library, the reference `make bench` times webhook verification against
# (scripts/stripe_verify_bench.py): the same payloads, verified and parsed by
# `stripe.Webhook.construct_event`, in the same run. STRIPE_PYTHON_VENV puts it elsewhere.
STRIPE_PYTHON_VERSION="${STRIPE_PYTHON_VERSION:-16.1.0}"
STRIPE_PYTHON_VENV="${STRIPE_PYTHON_VENV:-$ROOT/.venv/stripe-python}"
ensure_stripe_python() {
  local venv="$STRIPE_PYTHON_VENV"
  if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "stripe==$STRIPE_PYTHON_VERSION at $venv" ]; then
    echo "$venv/bin"
    return 0
  fi
  log "installing stripe $STRIPE_PYTHON_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "stripe==$STRIPE_PYTHON_VERSION" >&2
  echo "stripe==$STRIPE_PYTHON_VERSION at $venv" >"$venv/.installed"
  echo "$venv/bin"
}

# Node and npm for the TypeScript client (clients/typescript): Debian's packages when absent;
# its dev dependencies (TypeScript) go into its git-ignored node_modules from the lock file.
ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "installing nodejs and npm (Debian packages)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
  fi
  if [ ! -d "$ROOT/clients/typescript/node_modules/typescript" ]; then
    log "installing the TypeScript client's dev dependencies"
    (cd "$ROOT/clients/typescript" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Debian's Chromium and its WebDriver, for the dashboard's browser tests (tests/browser.rs).
# Installed once with apt (`apt-get update` first); skipped when both are present.
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    return 0
  fi
  log "installing chromium and chromium-driver (Debian packages)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
}

# apt_install PACKAGE...: Debian packages, with `apt-get update` once per shell first.
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "${KEYHOOK_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq
    KEYHOOK_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Go for the Go client (clients/go): Debian's golang-go (Go 1.19 on Debian 12, what the client
# targets; it has no dependencies, so nothing else is downloaded). Skipped when go is present.
ensure_go() {
  command -v go >/dev/null 2>&1 && return 0
  log "installing golang-go (Debian package)"
  apt_install golang-go
}

# A JDK (17 or later) for the Java client (clients/java), built with javac alone: Debian's
# openjdk-17-jdk-headless. Skipped when javac 17 or later is present.
ensure_java() {
  local major
  major="$(javac -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p')"
  [ -n "$major" ] && [ "$major" -ge 17 ] && return 0
  log "installing openjdk-17-jdk-headless (Debian package)"
  apt_install openjdk-17-jdk-headless
}

# Rust's standard library for Lambda's arm64 target (cargo-lambda links with its own zig).
# Fails when it cannot be installed (offline); deploy-check.sh then builds for x86_64.
ensure_arm64_target() {
  rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu
}

# Everything `make test` downloads rather than compiles: the tool virtualenvs, Debian's
# Chromium, Node, Go and the JDK, the arm64 target. scripts/test.sh runs it in the background while clippy
# compiles (downloads and compiling do not compete for the same thing); the Debian packages
# and the Python tools go side by side (apt and pip have separate locks).
ensure_test_tools() {
  local apt_pid rc=0
  (ensure_chromium && ensure_node && ensure_go && ensure_java) &
  apt_pid=$!
  ensure_moto
  ensure_cfn_lint >/dev/null
  ensure_sam >/dev/null
  ensure_py_client >/dev/null
  ensure_tool_venv openapi-python-client openapi-python-client "$OPENAPI_PYTHON_CLIENT_VERSION"
  ensure_tool_venv schemathesis schemathesis "$SCHEMATHESIS_VERSION"
  ensure_cargo_lambda >/dev/null
  ensure_arm64_target || echo "WARNING: no arm64 target; the Lambda build falls back to x86_64" >&2
  wait "$apt_pid" || rc=$?
  return "$rc"
}
