#!/usr/bin/env bash
# The cross-language end-to-end script in Java (tests/clients_e2e.rs runs it): compiles the
# client and examples/dev/keyhook/examples/E2e.java with the JDK when stale (quietly), then runs
# the phase given (online, offline, rollback, seats). Output: one JSON line per step on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/jdk-build.sh" classes >&2
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$here/.build/main" dev.keyhook.examples.E2e "$@"
