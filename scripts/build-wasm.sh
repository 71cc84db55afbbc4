#!/usr/bin/env bash
# Builds the browser client into web/pkg/: the size-optimised release wasm,
# its JavaScript glue and TypeScript types (wasm-bindgen), then wasm-opt -Oz.
set -euo pipefail
source "$(dirname "$0")/env.sh"

log "building the wasm client (release)"
"$ROOT/scripts/wasm-cargo" build --quiet -p bitcraps-wasm-client --profile wasm-release
raw="$WASM_TARGET_DIR/wasm32-unknown-unknown/wasm-release/bitcraps_client.wasm"
out="$ROOT/web/pkg"
rm -rf "$out"
wasm-bindgen --target web --out-dir "$out" "$raw"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$out/bitcraps_client_bg.wasm" "$out/bitcraps_client_bg.wasm"
log "web/pkg: $(wc -c <"$out/bitcraps_client_bg.wasm") bytes of wasm"
