# Shared settings for the project's scripts. Source it; do not run it.
#
# BITCRAPS_TOOLS: where tools that take minutes to build are kept between
# runs (outside the repository, so a fresh clone reuses them).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BITCRAPS_TOOLS="${BITCRAPS_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/bitcraps-tools}"

# The wasm-bindgen CLI must match the wasm-bindgen crate exactly; the one
# pin lives in the workspace Cargo.toml.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml")"
WASM_BINDGEN_DIR="$BITCRAPS_TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin"

# The wasm build keeps its own target folder: it may use another compiler.
WASM_TARGET_DIR="$ROOT/target/wasm"

export PATH="$WASM_BINDGEN_DIR:$ROOT/node_modules/.bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
