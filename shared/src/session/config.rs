//! A game's configuration: what every peer of one game agrees on before it
//! starts, and its bytes (the payload of a `Table` frame).

use crate::craps::{PlayerId, TableRules};
use crate::fair::GameId;
use crate::session::Millis;

/// Everything the peers of one game agree on before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GameConfig {
    /// The game.
    pub game: GameId,
    /// The table rules.
    pub rules: TableRules,
    /// The banker's public key.
    pub banker: PlayerId,
    /// The banker's bankroll (its buy-in).
    pub bankroll: u64,
    /// How long participants have to commit once betting closes.
    pub commit_timeout: Millis,
    /// How long participants have to reveal once all have committed.
    pub reveal_timeout: Millis,
    /// How long a shooter may keep the dice without rolling once two or
    /// more players are seated; then the banker passes them on (0: no
    /// limit).
    pub shooter_timeout: Millis,
}

/// Why bytes are not a game configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a table configuration is {CONFIG_LEN} bytes of valid rules")]
pub struct ConfigError;

/// Length of an encoded [`GameConfig`].
pub const CONFIG_LEN: usize = 16 + 23 + 32 + 8 + 8 + 8 + 8;

impl GameConfig {
    /// The configuration's bytes (the payload of a `Table` frame):
    /// `game[16] rules[23] banker[32] bankroll u64 commit_timeout u64
    /// reveal_timeout u64 shooter_timeout u64`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CONFIG_LEN);
        out.extend_from_slice(&self.game);
        self.rules.encode(&mut out);
        out.extend_from_slice(&self.banker);
        out.extend_from_slice(&self.bankroll.to_be_bytes());
        out.extend_from_slice(&self.commit_timeout.to_be_bytes());
        out.extend_from_slice(&self.reveal_timeout.to_be_bytes());
        out.extend_from_slice(&self.shooter_timeout.to_be_bytes());
        out
    }

    /// Parses [`GameConfig::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConfigError> {
        if bytes.len() != CONFIG_LEN {
            return Err(ConfigError);
        }
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(b)
        };
        let mut game = [0u8; 16];
        game.copy_from_slice(&bytes[..16]);
        let rules = TableRules::decode(&bytes[16..39]).ok_or(ConfigError)?;
        let mut banker = [0u8; 32];
        banker.copy_from_slice(&bytes[39..71]);
        Ok(Self {
            game,
            rules,
            banker,
            bankroll: u64_at(71),
            commit_timeout: u64_at(79),
            reveal_timeout: u64_at(87),
            shooter_timeout: u64_at(95),
        })
    }

    /// A game with default rules, 10-second deadlines and 30 seconds for
    /// a shooter to roll.
    pub fn new(game: GameId, banker: PlayerId, bankroll: u64) -> Self {
        Self {
            game,
            rules: TableRules::default(),
            banker,
            bankroll,
            commit_timeout: 10_000,
            reveal_timeout: 10_000,
            shooter_timeout: 30_000,
        }
    }
}
