#!/usr/bin/env bash
# Sets up what is missing, builds the wasm client and starts the relay
# serving the page on http://127.0.0.1:8080. Extra arguments go to the relay
# (e.g. `npm start -- --listen 127.0.0.1:9000`; see `--help`).
set -euo pipefail
source "$(dirname "$0")/env.sh"

"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-wasm.sh"
log "building the relay (release)"
cd "$ROOT"
cargo build --quiet --release -p bitcraps-relay
exec "$ROOT/target/release/bitcraps-relay" --web-dir "$ROOT/web" "$@"
