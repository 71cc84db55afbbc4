//! Who is at the table: the house watched through the relay's roster
//! (gone only after a grace period; never while this page is joining),
//! and presence and chat frames from the others.

use super::*;

impl Peer {
    /// Notes whether the house is in the relay's roster. Its absence is
    /// only news after [`HOUSE_GRACE_MS`] (see [`Self::report_house`]);
    /// nothing is judged before this connection's roster has come (a page
    /// that is joining, or a relay that restarted, has not heard yet).
    pub(super) fn check_house(&mut self, now: Millis, room_id: RoomId, me: PeerId) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some(banker) = room.banker() else { return };
        if banker == me || room.joined != Joined::In {
            return;
        }
        if room.roster.contains(&banker) {
            room.house_missing_since = None;
            if room.house_gone {
                room.house_gone = false;
                self.events
                    .push_back(PeerEvent::HouseBack { room: room_id });
            }
        } else if room.house_missing_since.is_none() {
            room.house_missing_since = Some(now);
        }
        self.report_house(now, room_id);
    }

    /// Tells of a house missing for [`HOUSE_GRACE_MS`].
    pub(super) fn report_house(&mut self, now: Millis, room_id: RoomId) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let due = room
            .house_missing_since
            .is_some_and(|since| now >= since.saturating_add(HOUSE_GRACE_MS));
        if due && !room.house_gone && !room.left {
            room.house_gone = true;
            self.events
                .push_back(PeerEvent::HouseGone { room: room_id });
        }
    }

    pub(super) fn on_presence(&mut self, now: Millis, room_id: RoomId, peer: PeerId, joined: bool) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        room.roster.retain(|p| *p != peer);
        if joined {
            room.roster.push(peer);
            room.roster.sort();
        }
        self.events.push_back(if joined {
            PeerEvent::PeerJoined {
                room: room_id,
                peer,
            }
        } else {
            PeerEvent::PeerLeft {
                room: room_id,
                peer,
            }
        });
        self.check_house(now, room_id, self.id);
    }
}
