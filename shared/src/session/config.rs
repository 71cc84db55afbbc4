//! A game's configuration: what every peer of one game agrees on before it
//! starts, and its bytes (the payload of a `Table` frame).

use crate::commit_reveal::GameId;
use crate::craps::{PlayerId, TableRules};
use crate::decode::{Reader, UnexpectedEnd};
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

impl From<UnexpectedEnd> for ConfigError {
    fn from(_: UnexpectedEnd) -> Self {
        ConfigError
    }
}

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
        let mut r = Reader::new(bytes);
        let game = r.array()?;
        let rules = TableRules::decode(r.take(TableRules::ENCODED_LEN)?).ok_or(ConfigError)?;
        let config = Self {
            game,
            rules,
            banker: r.array()?,
            bankroll: r.u64()?,
            commit_timeout: r.u64()?,
            reveal_timeout: r.u64()?,
            shooter_timeout: r.u64()?,
        };
        if !r.is_empty() {
            return Err(ConfigError);
        }
        Ok(config)
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
