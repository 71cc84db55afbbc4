//! The zero-copy binary codec: frames ([`frame`]) and the payloads of the
//! relay's control frames ([`control`]). Engine messages travel as the
//! payload of `Game` frames (see [`crate::message`]).

pub mod control;
pub mod frame;

pub use frame::{
    encode_signed, encode_unsigned, encode_with_signature, frames, stamp, EncodeError, Frame,
    FrameError, FrameHeader, FrameRef, Frames,
};
