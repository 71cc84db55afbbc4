#!/usr/bin/env bash
# Makes this machine able to build, run and test BitCraps. Safe to run again:
# every step is skipped when what it installs is already there.
#
# Needs: a Debian 12 machine (root, or sudo), Rust by rustup, Node.js + npm.
# Reaches only crates.io, Debian's apt repositories and npm.
set -euo pipefail
source "$(dirname "$0")/env.sh"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_UPDATED=""

# Every step that downloads runs under a time limit and is tried again:
# a registry that stops answering fails the set-up within minutes, naming
# what did not answer, instead of leaving it waiting in silence.
#   fetch WHAT SECONDS COMMAND...
fetch() {
    local what="$1" limit="$2"
    shift 2
    local attempt
    for attempt in 1 2 3; do
        local status=0
        timeout --kill-after=10 "$limit" "$@" || status=$?
        [ "$status" -eq 0 ] && return 0
        if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
            log "$what did not finish within ${limit}s (attempt $attempt of 3)"
        else
            log "$what failed with status $status (attempt $attempt of 3)"
        fi
        [ "$attempt" -lt 3 ] && sleep $((attempt * 5))
    done
    echo "set-up: $what did not answer after 3 attempts; check the network or the registry and run again" >&2
    return 1
}
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ -z "$APT_UPDATED" ]; then
        log "apt-get update (Debian's package lists)"
        fetch "apt-get update (Debian's package repositories)" 300 $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install ${missing[*]} (from Debian's package repositories)"
    fetch "apt-get install ${missing[*]}" 900 env DEBIAN_FRONTEND=noninteractive \
        $SUDO apt-get install -y -qq --no-install-recommends \
        -o Acquire::http::Timeout=60 -o Acquire::Retries=2 "${missing[@]}" >/dev/null
}

# 1. A Rust toolchain that can build wasm32-unknown-unknown. The rustup
#    target when it can be had; otherwise Debian's rustc-web with its std
#    source (built with -Zbuild-std) and Debian's wasm-ld. scripts/wasm-cargo
#    hides which one is in use.
#    Set BITCRAPS_WASM_ROUTE=debian to take the Debian route regardless.
if [ "${BITCRAPS_WASM_ROUTE:-auto}" != debian ] \
    && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    :
elif [ "${BITCRAPS_WASM_ROUTE:-auto}" != debian ] && [ ! -e "$BITCRAPS_TOOLS/no-rustup-wasm" ] \
    && timeout 120 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
    log "rustup target wasm32-unknown-unknown added"
else
    if [ "${BITCRAPS_WASM_ROUTE:-auto}" != debian ]; then
        mkdir -p "$BITCRAPS_TOOLS"
        touch "$BITCRAPS_TOOLS/no-rustup-wasm" # don't wait on rustup again
    fi
    apt_install rustc-web cargo-web rust-web-src
    llvm="$(/usr/bin/rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')"
    apt_install "lld-$llvm"
fi

# 2. Chromium for the browser tests (and its WebDriver for wasm-bindgen-test);
#    real STUN servers (coturn, stund) for the STUN tests; nats-server
#    (JetStream) for cluster mode's tests. The tests start their own
#    instances on free loopback ports.
apt_install chromium chromium-driver coturn stun-server nats-server

# 3. wasm-bindgen CLI, exactly the crate's version, built once into the cache.
if ! "$WASM_BINDGEN_DIR/wasm-bindgen" --version 2>/dev/null | grep -qx "wasm-bindgen $WASM_BINDGEN_VERSION"; then
    log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
    # No --locked: its lockfile pins a crate version the registry may lack.
    fetch "cargo install wasm-bindgen-cli (crates.io)" 1800 \
        cargo install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --debug \
        --root "$BITCRAPS_TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION"
fi

# 4. npm tools: playwright-core (drives the system Chromium, downloads no
#    browser) and binaryen's wasm-opt (Debian's binaryen 108 corrupts
#    wasm-bindgen output; npm's is pure JS/wasm).
if [ ! -x "$ROOT/node_modules/.bin/wasm-opt" ] || [ ! -d "$ROOT/node_modules/playwright-core" ] \
    || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    log "npm ci (from the npm registry)"
    (cd "$ROOT" && fetch "npm ci (the npm registry)" 300 \
        npm ci --no-audit --no-fund --loglevel=error --fetch-timeout=60000 --fetch-retries=2)
fi

# 5. The workspace's crates, downloaded here under a time limit (the builds
#    that follow then need no network).
log "cargo fetch (the workspace's crates from crates.io)"
(cd "$ROOT" && fetch "cargo fetch (crates.io)" 600 cargo fetch --quiet)
