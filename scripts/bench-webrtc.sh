#!/usr/bin/env bash
# Roll and bet latency in real Chromium pages with WebRTC data channels
# and with the relay only, and the relay's CPU and bytes per roll in each
# mode (BENCHMARKS.md, "Direct connections"). A house and 8 players, 20
# rolls per mode: BENCH_PLAYERS, BENCH_ROLLS, BENCH_MODES ("webrtc,relay
# only") change that. Needs what `npm test` set up (the page built,
# Chromium, node modules); builds the relay in release.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
cargo build --quiet --release -p bitcraps-relay
RELAY_BIN="$ROOT/target/release/bitcraps-relay" WEB_DIR="$ROOT/web" \
    node "$ROOT/tests/e2e/webrtc-bench.mjs"
