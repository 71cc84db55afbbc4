#!/usr/bin/env bash
# The browser fault tests, long: 30 rolls through a dropped socket and two
# relay crashes (WebRTC off and on), and a page that joins after more than
# 2,000 frames of history (260 rolls, the relay's default window).
# Needs what `npm test` set up (the page built, Chromium, node modules).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
cargo build --quiet -p bitcraps-relay
BITCRAPS_FAULT_ROLLS="${BITCRAPS_FAULT_ROLLS:-30}" \
BITCRAPS_HISTORY_ROLLS="${BITCRAPS_HISTORY_ROLLS:-260}" \
BITCRAPS_HISTORY_WINDOW="${BITCRAPS_HISTORY_WINDOW:-1024}" \
RELAY_BIN="$ROOT/target/debug/bitcraps-relay" WEB_DIR="$ROOT/web" \
    node --test --test-timeout=1800000 --test-reporter=spec "$ROOT/tests/e2e/faults.test.mjs"
