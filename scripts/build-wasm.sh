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
# Compressed once here, served as they are (the relay's ServeDir picks
# .br or .gz by Accept-Encoding): compressing the wasm for every download
# cost the relay about 21 ms of CPU each.
node -e '
const fs = require("fs"), zlib = require("zlib"), path = require("path");
const dir = process.argv[1];
for (const name of fs.readdirSync(dir)) {
  if (!/\.(wasm|js)$/.test(name)) continue;
  const data = fs.readFileSync(path.join(dir, name));
  fs.writeFileSync(path.join(dir, name + ".br"), zlib.brotliCompressSync(data, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
  fs.writeFileSync(path.join(dir, name + ".gz"), zlib.gzipSync(data, { level: 9 }));
}' "$out"
log "web/pkg: $(wc -c <"$out/bitcraps_client_bg.wasm.br") bytes of wasm with brotli, $(wc -c <"$out/bitcraps_client_bg.wasm.gz") with gzip"
