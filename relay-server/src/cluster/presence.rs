//! Who is in a room across relays: other relays' news (their members,
//! joins and leaves, clients' presence frames), relays that are gone,
//! and frames other relays send to members here.

use bytes::Bytes;
use shared::codec::FrameHeader;
use shared::wire::{error, PeerId, Priority, RoomId};

use super::wire::{News, RelayId};
use crate::rooms::{error_frame, relay_frame, replaced_frame, Hub, Room};

impl Hub {
    /// Another relay's news about a room followed here.
    pub(super) fn cluster_news(&self, r: &mut Room, room_id: RoomId, relay: RelayId, news: News) {
        let Some(link) = r.cluster.as_mut() else {
            return;
        };
        let mut joined = Vec::new();
        let mut left = Vec::new();
        match news {
            News::State(peers) => {
                link.remote.retain(|peer, at| {
                    let keep = *at != relay || peers.contains(peer);
                    if !keep {
                        left.push(*peer);
                    }
                    keep
                });
                for peer in peers {
                    if !r.members.contains_key(&peer) && link.remote.insert(peer, relay).is_none() {
                        joined.push(peer);
                    }
                }
            }
            News::Joined(peer) => {
                let was_here = link.remote.insert(peer, relay).is_some();
                if let Some(old) = r.members.remove(&peer) {
                    // It joined there since: this connection speaks for
                    // it no longer.
                    old.outbox.push(Priority::Critical, replaced_frame(room_id));
                } else if !was_here {
                    joined.push(peer);
                }
            }
            News::Left(peer) => {
                if link.remote.get(&peer) == Some(&relay) {
                    link.remote.remove(&peer);
                    left.push(peer);
                }
            }
            News::Frame(frame) => {
                if let Ok((header, _)) = FrameHeader::peek(&frame) {
                    if header.room == room_id {
                        Self::fan_out(r, Some(&header.sender), Priority::Low, &frame);
                    }
                }
                return;
            }
        }
        self.tell_presence(r, room_id, &joined, &left);
    }

    fn tell_presence(&self, r: &Room, room_id: RoomId, joined: &[PeerId], left: &[PeerId]) {
        use shared::wire::FrameKind;
        for peer in joined {
            let frame = relay_frame(FrameKind::PeerJoined, room_id, 0, peer);
            Self::fan_out(r, None, Priority::Critical, &frame);
        }
        for peer in left {
            let frame = relay_frame(FrameKind::PeerLeft, room_id, 0, peer);
            Self::fan_out(r, None, Priority::Critical, &frame);
        }
    }

    /// NATS is unreachable: every member here is told its table waits.
    pub(crate) fn cluster_degraded(&self) {
        let frame = |room| {
            error_frame(
                room,
                error::CLUSTER_UNAVAILABLE,
                "the relays' cluster is unreachable: the table waits until it is back",
            )
        };
        for room_id in self.cluster_rooms() {
            let Some(room) = self.room(&room_id) else {
                continue;
            };
            let Ok(r) = room.lock() else { continue };
            Self::fan_out(&r, None, Priority::Critical, &frame(room_id));
        }
    }

    /// A relay is gone: its members leave every room here.
    pub(crate) fn cluster_relay_gone(&self, relay: RelayId) {
        for room_id in self.cluster_rooms() {
            let Some(room) = self.room(&room_id) else {
                continue;
            };
            let Ok(mut r) = room.lock() else { continue };
            let Some(link) = r.cluster.as_mut() else {
                continue;
            };
            let mut left = Vec::new();
            link.remote.retain(|peer, at| {
                let keep = *at != relay;
                if !keep {
                    left.push(*peer);
                }
                keep
            });
            self.tell_presence(&r, room_id, &[], &left);
        }
    }

    /// A frame from another relay for a member here.
    /// Its sender is a member of `relay` (that relay checked): if the news
    /// of its joining has not come yet, this says it, so that the answer
    /// finds its way back.
    pub(crate) fn cluster_direct(
        &self,
        relay: RelayId,
        room_id: &RoomId,
        target: &PeerId,
        frame: Bytes,
    ) {
        let Some(room) = self.room(room_id) else {
            return;
        };
        let Ok(mut r) = room.lock() else { return };
        let Ok((header, _)) = FrameHeader::peek(&frame) else {
            return;
        };
        let sender = header.sender;
        let local = r.members.contains_key(&sender);
        if let Some(link) = r.cluster.as_mut() {
            if !local && link.remote.insert(sender, relay).is_none() {
                self.tell_presence(&r, *room_id, &[sender], &[]);
            }
        }
        if let Some(member) = r.members.get(target) {
            member.outbox.push(header.priority, frame);
        }
    }
}
