#!/usr/bin/env bash
# Fetches the API reference's renderer, RapiDoc, into shared/vendor/rapidoc/ (what `GET /docs`
# serves: shared/src/app/docs.rs). The npm tarball is checked against the integrity npm
# publishes for that version; its own gzip of the bundle (`dist/rapidoc-min.js.gz`) is kept,
# after checking that it decompresses to the bundle. Changing RAPIDOC_VERSION: update
# `docs::RENDERER_VERSION` too (a test compares them with this script's line).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RAPIDOC_VERSION=9.3.8
RAPIDOC_INTEGRITY="sha512-eCYEbr1Xr8OJZvVCw8SXl9zBCRoLJbhNGuG5IZTHq/RWAOq/O4MafUCuFEyZHsrhLrlUcGZMa64pyhpib8fQKQ=="

ensure_node
dest="$ROOT/shared/vendor/rapidoc"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "rapidoc@$RAPIDOC_VERSION" --silent >/dev/null)
tarball="$work/rapidoc-$RAPIDOC_VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$RAPIDOC_INTEGRITY" ]; then
  echo "rapidoc@$RAPIDOC_VERSION: integrity $actual, expected $RAPIDOC_INTEGRITY" >&2
  exit 1
fi
tar xzf "$tarball" -C "$work"
cmp <(gzip -dc "$work/package/dist/rapidoc-min.js.gz") "$work/package/dist/rapidoc-min.js"
mkdir -p "$dest"
cp "$work/package/dist/rapidoc-min.js.gz" "$dest/rapidoc-min.js.gz"
cp "$work/package/LICENSE.txt" "$dest/LICENSE.txt"
cp "$work/package/dist/rapidoc-min.js.LICENSE.txt" "$dest/rapidoc-min.js.LICENSE.txt"
log "rapidoc $RAPIDOC_VERSION in $dest: $(wc -c <"$dest/rapidoc-min.js.gz") bytes gzip, $(gzip -dc "$dest/rapidoc-min.js.gz" | wc -c) raw"
