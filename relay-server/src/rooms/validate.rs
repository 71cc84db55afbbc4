//! Validation mode (`--validate`): the engine follows each announced
//! table and the relay refuses the game frames it refuses.

use shared::manager::ManagerError;
use shared::message::SignedMessage;
use shared::session::GameConfig;
use shared::wire::{error, PeerId, Priority, RoomId};

use super::{Hub, Refusal};

impl Hub {
    /// Validation mode: registers a room's table from its banker's `Table`
    /// frame, so the room's game frames can be checked.
    pub fn announce_table(
        &self,
        sender: PeerId,
        room_id: RoomId,
        payload: &[u8],
    ) -> Result<(), Refusal> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        let invalid =
            |why: &str| Refusal::new(error::INVALID_GAME_FRAME, "invalid_game_frame", why);
        let config =
            GameConfig::decode(payload).map_err(|_| invalid("malformed table configuration"))?;
        if config.game != room_id || config.banker != sender {
            return Err(invalid(
                "only the banker announces a table, in its own room",
            ));
        }
        // A table announced twice keeps its first configuration.
        if validator.observe(config).is_ok() {
            if let Some(log) = &self.transcripts {
                log.start(&config);
            }
        }
        Ok(())
    }

    /// Validation mode: checks a game frame with the engine, as stamped at
    /// relay time `time` (the game's deadlines are judged on it, as every
    /// peer does). A frame the game refused in its turn (its sequence
    /// number used up: a stale commitment, a player passing the dice) is
    /// still relayed, so the peers, who judge it alike, are never left
    /// waiting for that number; it counts as refused in the validator's
    /// figures.
    pub fn validate_game(
        &self,
        frame: &shared::codec::FrameRef<'_>,
        time: u64,
    ) -> Result<(), Refusal> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        let invalid =
            |why: String| Refusal::new(error::INVALID_GAME_FRAME, "invalid_game_frame", why);
        if frame.header.priority != Priority::Critical {
            // Every peer ignores it: it might have been reordered or dropped.
            return Err(invalid("game frames travel at critical priority".into()));
        }
        let message = SignedMessage::from_frame(frame).map_err(|e| invalid(e.to_string()))?;
        let now = self.started.elapsed().as_millis() as u64;
        let game = message.message.game;
        let result = validator.handle_message(now, message, Some(time));
        // (Under the room's lock: the file takes the relay's order.)
        if let Some(log) = &self.transcripts {
            if let Some(from) = log.written(&game) {
                log.append(&game, &validator.transcript_from(&game, from));
            }
        }
        match result {
            Ok(_) => Ok(()),
            Err(ManagerError::Session(e)) if e.used_its_turn() => Ok(()),
            Err(e) => Err(invalid(e.to_string())),
        }
    }
}
