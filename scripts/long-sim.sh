#!/usr/bin/env bash
# The agreement simulation, long: games of 4-8 peers with bets crossing the
# roll, a small bankroll against standing bets, a noisy player, a flood of
# strangers, skewed clocks, a player whose link stalls around the
# deadlines and one hostile participant per game (every kind in turn),
# until ROUNDS rounds in all (default 10,000). Checks every peer after
# every roll; prints what happened, by kind; fails on any divergence,
# call-off, lost chip, transcript that does not verify, or hostile kind
# that had no effect.
#
#   scripts/long-sim.sh [ROUNDS]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
BITCRAPS_SIM_ROUNDS="${1:-10000}" cargo test --release -p bitcraps-shared --test agreement -- --nocapture
