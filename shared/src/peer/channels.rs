//! Frames from data channels: only the table actions the peer at the
//! channel's other end signed for the channel's own table, shown at once
//! and counted when the relay's copy comes.

use super::*;

impl Peer {
    /// Handles one frame from peer `from`'s data channel: only game frames
    /// that `from` signed (anything else is refused: relay frames cannot
    /// be injected, nor a third player's frames relayed), taken as
    /// unstamped (a channel's frames say nothing about what the relay has:
    /// no acknowledgement, no sequence bookkeeping). Only table actions:
    /// they show at once and count as the relay's copy comes; anything
    /// else counts only as the relay carried it, and a channel's copy is
    /// refused.
    pub fn handle_channel_frame(
        &mut self,
        now: Millis,
        room_id: RoomId,
        from: &PeerId,
        bytes: &[u8],
    ) -> Result<(), PeerError> {
        let result = match FrameRef::parse(bytes, MAX_FRAME_LEN) {
            // A channel belongs to one table: another table's frame over
            // it is refused (and counted against this channel).
            Ok(frame) if frame.header.room != room_id => Err(PeerError::ChannelOfAnotherTable),
            Ok(frame) => self.take_channel_frame(now, from, &frame),
            Err(e) => Err(e.into()),
        };
        if let Some(room) = self.rooms.get_mut(&room_id) {
            let delivery = match &result {
                Ok(delivery) => *delivery,
                Err(_) => Delivery::Refused,
            };
            room.paths.from_channel(now, *from, delivery);
        }
        result.map(|_| ())
    }

    pub(super) fn take_channel_frame(
        &mut self,
        now: Millis,
        from: &PeerId,
        frame: &FrameRef<'_>,
    ) -> Result<Delivery, PeerError> {
        if frame.header.kind != FrameKind::Game || frame.header.sender != *from {
            return Err(PeerError::ForeignChannelFrame);
        }
        let room_id = frame.header.room;
        // While catching up, the relay's copy comes after the snapshot.
        if self.rooms.get(&room_id).is_none_or(|r| r.syncing.is_some()) {
            return Ok(Delivery::Ignored);
        }
        let message = SignedMessage::from_frame(frame)
            .map_err(|_| PeerError::Frame(FrameError::BadSignature))?;
        if !message.message.action.is_table_action() {
            return Err(PeerError::ForeignChannelFrame);
        }
        // Shown at once; it counts as the relay's copy comes. A refusal
        // here (a stranger's, too far ahead) is the relay copy's to report.
        let Some(session) = self
            .rooms
            .get_mut(&room_id)
            .and_then(|r| r.session.as_mut())
        else {
            return Ok(Delivery::Ignored);
        };
        let delivery = Delivery::of(&session.handle_message(now, message));
        if delivery == Delivery::Taken {
            self.drain(now, room_id);
        }
        Ok(delivery)
    }
}
