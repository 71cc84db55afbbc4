#!/usr/bin/env bash
# Runs every test: set-up, native Rust tests, the wasm tests in headless
# Chromium, and the browser end-to-end tests against the real relay binary.
# Every suite runs even when an earlier one fails; the last line sums up.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh" || { echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; }

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed_suites=()

suite() {
    local name="$1"
    shift
    log "$name"
    if ! "$@" 2>&1 | tee "$logs/$name.log"; then
        failed_suites+=("$name")
    fi
}

suite fmt cargo fmt --all -- --check
suite clippy cargo clippy --quiet --workspace --all-targets -- -D warnings
suite native cargo test --workspace
suite types node --test --test-reporter=spec "$ROOT"/tests/types/
wasm_tests() {
    "$ROOT/scripts/wasm-cargo" test -p bitcraps-shared --test rules --test codec --test stun --test transcript --test sig &&
        "$ROOT/scripts/wasm-cargo" test -p bitcraps-wasm-client --test wasm
}
suite wasm wasm_tests
suite build-page "$ROOT/scripts/build-wasm.sh"
suite build-relay cargo build --quiet -p bitcraps-relay -p bitcraps-verify
RELAY_BIN="$ROOT/target/debug/bitcraps-relay" WEB_DIR="$ROOT/web" VERIFY_BIN="$ROOT/target/debug/bitcraps-verify" \
    suite e2e node --test --test-reporter=spec "$ROOT"/tests/e2e/

# cargo and wasm-bindgen-test print "test result: ok. N passed; M failed";
# node's runner prints "ℹ pass N" / "ℹ fail M".
read -r passed failed < <(awk '
    /test result: / { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
    /^ℹ pass [0-9]+$/ { p += $3 }
    /^ℹ fail [0-9]+$/ { f += $3 }
    END { print p + 0, f + 0 }' "$logs"/*.log)
if [ "${#failed_suites[@]}" -gt 0 ]; then
    echo "failed suites: ${failed_suites[*]}"
    [ "$failed" -gt 0 ] || failed=${#failed_suites[@]}
fi
echo "$passed passed, $failed failed"
[ "${#failed_suites[@]}" -eq 0 ]
