#!/usr/bin/env bash
# A newcomer to a long game at a full table, in the deterministic model of
# the relay (shared/tests/peer.rs): ROLLS rolls (default 5,000) with PLAYERS
# players (default 8, the house among them), then a newcomer joins, takes
# the game from a player and sits. Prints the snapshot's size and how long
# (game time) the newcomer took to be at the table.
#
#   scripts/long-newcomer.sh [ROLLS] [PLAYERS]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
BITCRAPS_NEWCOMER_ROLLS="${1:-5000}" BITCRAPS_NEWCOMER_PLAYERS="${2:-8}" \
    cargo test --release -p bitcraps-shared --test peer a_newcomer_to_a_long_game_at_a_full_table \
    -- --ignored --nocapture
