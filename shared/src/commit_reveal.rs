//! Fair dice by commit-reveal among every participant of a roll.
//!
//! 1. Each participant picks a 32-byte secret and publishes only its
//!    commitment `H("bitcraps/commit/v1" | game | round | player | secret)`.
//! 2. Once every commitment is in, each reveals its secret; everyone checks
//!    it against the commitment.
//! 3. The seed is `H("bitcraps/dice/v1" | game | round | n | (player |
//!    secret)*)` over the reveals sorted by player key, and the dice come
//!    from [`Roll::from_seed`].
//!
//! Nobody can choose the roll: a secret fixed before seeing the others'
//! cannot steer a hash of all of them; and nobody, the relay included, can
//! predict it before the last reveal. The one lever left, withholding a
//! reveal after seeing the others, is priced by the session: the withholder
//! forfeits its bets and leaves (a withholding banker pays every bet).
//!
//! Every hash is domain-separated and bound to the game and round, so a
//! commitment or reveal from one roll is worthless in any other.

use sha2::{Digest, Sha256};

use crate::craps::PlayerId;
use crate::dice::Roll;

/// A game's identity: 16 random bytes chosen by whoever opens the table.
pub type GameId = [u8; 16];

/// A participant's secret for one roll.
pub type Secret = [u8; 32];

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

/// The commitment to `secret` by `player` for `round` of `game`.
pub fn commitment(game: &GameId, round: u64, player: &PlayerId, secret: &Secret) -> Digest32 {
    let mut h = Sha256::new();
    h.update(b"bitcraps/commit/v1");
    h.update(game);
    h.update(round.to_be_bytes());
    h.update(player);
    h.update(secret);
    h.finalize().into()
}

/// Derives this round's secret from a participant's private entropy, so a
/// peer needs no random number generator inside the engine.
pub fn derive_secret(entropy: &[u8; 32], game: &GameId, round: u64) -> Secret {
    let mut h = Sha256::new();
    h.update(b"bitcraps/secret/v1");
    h.update(entropy);
    h.update(game);
    h.update(round.to_be_bytes());
    h.finalize().into()
}

/// The seed of a roll from its reveals, in canonical (player key) order
/// whatever order they are given in.
pub fn dice_seed<'a>(
    game: &GameId,
    round: u64,
    reveals: impl IntoIterator<Item = (&'a PlayerId, &'a Secret)>,
) -> Digest32 {
    let mut sorted: Vec<_> = reveals.into_iter().collect();
    sorted.sort_by_key(|(player, _)| **player);
    let mut h = Sha256::new();
    h.update(b"bitcraps/dice/v1");
    h.update(game);
    h.update(round.to_be_bytes());
    h.update((sorted.len() as u32).to_be_bytes());
    for (player, secret) in sorted {
        h.update(player);
        h.update(secret);
    }
    h.finalize().into()
}

/// The roll from its reveals.
pub fn roll_from_reveals<'a>(
    game: &GameId,
    round: u64,
    reveals: impl IntoIterator<Item = (&'a PlayerId, &'a Secret)>,
) -> Roll {
    Roll::from_seed(&dice_seed(game, round, reveals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_ignores_the_order_reveals_arrive_in() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let (sa, sb) = ([7u8; 32], [9u8; 32]);
        let game = [3u8; 16];
        assert_eq!(
            dice_seed(&game, 1, [(&a, &sa), (&b, &sb)]),
            dice_seed(&game, 1, [(&b, &sb), (&a, &sa)])
        );
        assert_ne!(
            dice_seed(&game, 1, [(&a, &sa), (&b, &sb)]),
            dice_seed(&game, 2, [(&a, &sa), (&b, &sb)])
        );
        // Swapping who revealed what changes the seed.
        assert_ne!(
            dice_seed(&game, 1, [(&a, &sb), (&b, &sa)]),
            dice_seed(&game, 1, [(&a, &sa), (&b, &sb)])
        );
    }

    #[test]
    fn commitments_bind_game_round_player_and_secret() {
        let game = [3u8; 16];
        let c = commitment(&game, 1, &[1; 32], &[5; 32]);
        assert_ne!(c, commitment(&[4; 16], 1, &[1; 32], &[5; 32]));
        assert_ne!(c, commitment(&game, 2, &[1; 32], &[5; 32]));
        assert_ne!(c, commitment(&game, 1, &[2; 32], &[5; 32]));
        assert_ne!(c, commitment(&game, 1, &[1; 32], &[6; 32]));
    }

    #[test]
    fn secrets_differ_by_round_and_game() {
        let e = [8u8; 32];
        assert_ne!(
            derive_secret(&e, &[1; 16], 1),
            derive_secret(&e, &[1; 16], 2)
        );
        assert_ne!(
            derive_secret(&e, &[1; 16], 1),
            derive_secret(&e, &[2; 16], 1)
        );
    }
}
