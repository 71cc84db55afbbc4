//! Fuzzes every decoder that reads untrusted bytes: frame headers, whole
//! frames, signatures, engine messages, control payloads, the table's
//! canonical bytes, game configurations and STUN messages. Any panic is a
//! bug; crashes found are kept as regression tests in `shared/tests/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::codec::{control, FrameHeader, FrameRef};
use shared::message::{Message, SignedMessage};
use shared::wire::MAX_FRAME_LEN;

fuzz_target!(|data: &[u8]| {
    let _ = FrameHeader::peek(data);
    if let Ok(frame) = FrameRef::parse(data, MAX_FRAME_LEN) {
        let _ = frame.verify();
        if let Ok(message) = SignedMessage::from_frame(&frame) {
            let _ = message.verify();
        }
        let _ = control::Join::decode(frame.payload);
        let _ = control::decode_roster(frame.payload);
        let _ = control::decode_error(frame.payload);
        let _ = control::decode_id(frame.payload);
        let _ = control::Challenge::decode(frame.payload);
    }
    let _ = Message::decode(data);
    let _ = shared::craps::Table::decode(data);
    let _ = shared::session::GameConfig::decode(data);
    if let Ok(message) = shared::stun::StunMessage::parse(data) {
        let _ = message.verify_integrity(b"key");
    }
});
