#!/usr/bin/env bash
# The withholding adversary's long run: a two-seat coalition's best
# withholding strategies over 100,000 rounds (or $1), each against the
# honest baseline, with 95% confidence intervals (see
# shared/tests/withholding.rs; `npm test` runs 20,000 rounds).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
BITCRAPS_WITHHOLD_ROUNDS="${1:-100000}" cargo test -q -p bitcraps-shared --test withholding \
    no_blind_withholding -- --nocapture
