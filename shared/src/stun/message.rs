//! STUN messages (RFC 8489, compatible with RFC 5389 and RFC 3489
//! servers): parse and build Binding requests and responses, sans I/O.
//!
//! ```text
//!  0                   1                   2                   3
//! |0 0| message type (14 bits)  |        message length         |
//! |                  magic cookie 0x2112A442                     |
//! |                transaction id (96 bits)                      |
//! | attributes: type u16 | length u16 | value, padded to 4 bytes |
//! ```
//!
//! Parsing borrows from the packet and never panics: every length is
//! checked before it is used. Known attributes are decoded;
//! comprehension-optional ones (0x8000 and up) that we do not know are
//! skipped; comprehension-required ones we do not know are listed in
//! [`StunMessage::unknown_required`] for the caller to act on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::decode::{Reader, UnexpectedEnd};

/// The magic cookie of RFC 5389 and later.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Length of the header.
pub const HEADER_LEN: usize = 20;
/// The Binding method.
pub const METHOD_BINDING: u16 = 0x001;
/// XOR applied to the CRC-32 in FINGERPRINT.
const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// Attribute types this codec knows.
pub mod attr {
    /// MAPPED-ADDRESS (RFC 3489 servers answer with it).
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// RESPONSE-ADDRESS (RFC 3489, skipped).
    pub const RESPONSE_ADDRESS: u16 = 0x0002;
    /// CHANGE-REQUEST (RFC 3489/5780, skipped).
    pub const CHANGE_REQUEST: u16 = 0x0003;
    /// SOURCE-ADDRESS (RFC 3489, skipped).
    pub const SOURCE_ADDRESS: u16 = 0x0004;
    /// CHANGED-ADDRESS (RFC 3489, skipped).
    pub const CHANGED_ADDRESS: u16 = 0x0005;
    /// USERNAME.
    pub const USERNAME: u16 = 0x0006;
    /// MESSAGE-INTEGRITY (HMAC-SHA1).
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// ERROR-CODE.
    pub const ERROR_CODE: u16 = 0x0009;
    /// UNKNOWN-ATTRIBUTES.
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    /// REALM.
    pub const REALM: u16 = 0x0014;
    /// NONCE.
    pub const NONCE: u16 = 0x0015;
    /// MESSAGE-INTEGRITY-SHA256.
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    /// USERHASH.
    pub const USERHASH: u16 = 0x001E;
    /// XOR-MAPPED-ADDRESS.
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// PRIORITY (ICE, skipped).
    pub const PRIORITY: u16 = 0x0024;
    /// USE-CANDIDATE (ICE, skipped).
    pub const USE_CANDIDATE: u16 = 0x0025;
    /// SOFTWARE.
    pub const SOFTWARE: u16 = 0x8022;
    /// FINGERPRINT.
    pub const FINGERPRINT: u16 = 0x8028;
    /// RESPONSE-ORIGIN.
    pub const RESPONSE_ORIGIN: u16 = 0x802B;
    /// OTHER-ADDRESS.
    pub const OTHER_ADDRESS: u16 = 0x802C;

    /// Comprehension-required types this codec understands (decodes or
    /// knowingly ignores).
    pub const KNOWN_REQUIRED: &[u16] = &[
        MAPPED_ADDRESS,
        RESPONSE_ADDRESS,
        CHANGE_REQUEST,
        SOURCE_ADDRESS,
        CHANGED_ADDRESS,
        USERNAME,
        MESSAGE_INTEGRITY,
        ERROR_CODE,
        UNKNOWN_ATTRIBUTES,
        REALM,
        NONCE,
        MESSAGE_INTEGRITY_SHA256,
        USERHASH,
        XOR_MAPPED_ADDRESS,
        PRIORITY,
        USE_CANDIDATE,
    ];
}

/// The class of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A request.
    Request,
    /// An indication.
    Indication,
    /// A success response.
    Success,
    /// An error response.
    Error,
}

/// Why bytes are not a STUN message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    /// Shorter than a header, or than the length it declares.
    #[error("STUN message truncated")]
    Truncated,
    /// The top two bits are not zero (not STUN; maybe another protocol).
    #[error("not a STUN message")]
    NotStun,
    /// The magic cookie is wrong.
    #[error("wrong magic cookie")]
    BadCookie,
    /// The declared length is not a multiple of 4 or disagrees with the packet.
    #[error("message length {declared} does not match {actual} bytes")]
    BadLength {
        /// Attribute bytes declared.
        declared: usize,
        /// Attribute bytes present.
        actual: usize,
    },
    /// An attribute runs past the end of the message.
    #[error("attribute {0:#06x} runs past the end")]
    AttributeOverrun(u16),
    /// An attribute's value has the wrong size or content.
    #[error("malformed attribute {0:#06x}")]
    BadAttribute(u16),
    /// FINGERPRINT does not match the message.
    #[error("FINGERPRINT does not match")]
    BadFingerprint,
    /// Attributes after FINGERPRINT.
    #[error("FINGERPRINT must be the last attribute")]
    FingerprintNotLast,
}

impl From<UnexpectedEnd> for StunError {
    fn from(_: UnexpectedEnd) -> Self {
        StunError::Truncated
    }
}

/// A parsed message, borrowing from the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StunMessage<'a> {
    /// The class.
    pub class: Class,
    /// The method (1 for Binding).
    pub method: u16,
    /// The transaction id.
    pub transaction_id: [u8; 12],
    /// XOR-MAPPED-ADDRESS.
    pub xor_mapped_address: Option<SocketAddr>,
    /// MAPPED-ADDRESS.
    pub mapped_address: Option<SocketAddr>,
    /// RESPONSE-ORIGIN.
    pub response_origin: Option<SocketAddr>,
    /// OTHER-ADDRESS.
    pub other_address: Option<SocketAddr>,
    /// SOFTWARE.
    pub software: Option<&'a str>,
    /// ERROR-CODE: the code (300-699) and reason.
    pub error: Option<(u16, &'a str)>,
    /// Whether a FINGERPRINT was present (it is always checked).
    pub has_fingerprint: bool,
    /// Comprehension-required attribute types this codec does not know.
    pub unknown_required: Vec<u16>,
    integrity_at: Option<usize>,
    raw: &'a [u8],
}

fn class_of(message_type: u16) -> Class {
    match message_type & 0x0110 {
        0x0000 => Class::Request,
        0x0010 => Class::Indication,
        0x0100 => Class::Success,
        _ => Class::Error,
    }
}

fn method_of(message_type: u16) -> u16 {
    (message_type & 0x000F) | ((message_type & 0x00E0) >> 1) | ((message_type & 0x3E00) >> 2)
}

fn message_type(class: Class, method: u16) -> u16 {
    let c = match class {
        Class::Request => 0x0000,
        Class::Indication => 0x0010,
        Class::Success => 0x0100,
        Class::Error => 0x0110,
    };
    (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | c
}

/// The CRC-32 of `bytes` XOR 0x5354554E.
fn fingerprint_of(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes) ^ FINGERPRINT_XOR
}

fn decode_address(typ: u16, value: &[u8], xor: Option<&[u8; 16]>) -> Result<SocketAddr, StunError> {
    let bad = |_| StunError::BadAttribute(typ);
    let mut r = Reader::new(value);
    let (_, family, mut port) = (
        r.u8().map_err(bad)?,
        r.u8().map_err(bad)?,
        r.u16().map_err(bad)?,
    );
    let cookie = MAGIC_COOKIE.to_be_bytes();
    if xor.is_some() {
        port ^= u16::from_be_bytes([cookie[0], cookie[1]]);
    }
    let ip = match (family, r.len()) {
        (0x01, 4) => {
            let mut ip: [u8; 4] = r.array().map_err(bad)?;
            if xor.is_some() {
                for (b, c) in ip.iter_mut().zip(cookie) {
                    *b ^= c;
                }
            }
            IpAddr::V4(Ipv4Addr::from(ip))
        }
        (0x02, 16) => {
            let mut ip: [u8; 16] = r.array().map_err(bad)?;
            if let Some(mask) = xor {
                for (b, m) in ip.iter_mut().zip(mask) {
                    *b ^= m;
                }
            }
            IpAddr::V6(Ipv6Addr::from(ip))
        }
        _ => return Err(StunError::BadAttribute(typ)),
    };
    Ok(SocketAddr::new(ip, port))
}

impl<'a> StunMessage<'a> {
    /// Parses one message filling `packet`.
    pub fn parse(packet: &'a [u8]) -> Result<StunMessage<'a>, StunError> {
        let mut r = Reader::new(packet);
        let message_type = r.u16()?;
        let declared = usize::from(r.u16()?);
        let cookie = r.u32()?;
        let transaction_id: [u8; 12] = r.array()?;
        if message_type & 0xC000 != 0 {
            return Err(StunError::NotStun);
        }
        let actual = r.len();
        if declared % 4 != 0 || declared != actual {
            return Err(if declared > actual {
                StunError::Truncated
            } else {
                StunError::BadLength { declared, actual }
            });
        }
        if cookie != MAGIC_COOKIE {
            return Err(StunError::BadCookie);
        }
        let mut xor_mask = [0u8; 16];
        xor_mask[..4].copy_from_slice(&cookie.to_be_bytes());
        xor_mask[4..].copy_from_slice(&transaction_id);
        let mut msg = StunMessage {
            class: class_of(message_type),
            method: method_of(message_type),
            transaction_id,
            xor_mapped_address: None,
            mapped_address: None,
            response_origin: None,
            other_address: None,
            software: None,
            error: None,
            has_fingerprint: false,
            unknown_required: Vec::new(),
            integrity_at: None,
            raw: packet,
        };
        while !r.is_empty() {
            if msg.has_fingerprint {
                return Err(StunError::FingerprintNotLast);
            }
            let at = packet.len() - r.len();
            let typ = r.u16()?;
            let len = usize::from(r.u16()?);
            let overrun = |_| StunError::AttributeOverrun(typ);
            let value = r.take(len).map_err(overrun)?;
            r.take(len.next_multiple_of(4) - len).map_err(overrun)?;
            match typ {
                attr::XOR_MAPPED_ADDRESS => {
                    msg.xor_mapped_address = Some(decode_address(typ, value, Some(&xor_mask))?)
                }
                attr::MAPPED_ADDRESS => {
                    msg.mapped_address = Some(decode_address(typ, value, None)?)
                }
                attr::RESPONSE_ORIGIN => {
                    msg.response_origin = Some(decode_address(typ, value, None)?)
                }
                attr::OTHER_ADDRESS => msg.other_address = Some(decode_address(typ, value, None)?),
                attr::SOFTWARE => {
                    msg.software =
                        Some(std::str::from_utf8(value).map_err(|_| StunError::BadAttribute(typ))?)
                }
                attr::ERROR_CODE => {
                    let mut v = Reader::new(value);
                    let head: [u8; 4] = v.array().map_err(|_| StunError::BadAttribute(typ))?;
                    let code = u16::from(head[2] & 0x07) * 100 + u16::from(head[3]);
                    let reason =
                        std::str::from_utf8(v.rest()).map_err(|_| StunError::BadAttribute(typ))?;
                    msg.error = Some((code, reason));
                }
                attr::MESSAGE_INTEGRITY => {
                    if len != 20 {
                        return Err(StunError::BadAttribute(typ));
                    }
                    msg.integrity_at = Some(at);
                }
                attr::FINGERPRINT => {
                    let got = <[u8; 4]>::try_from(value)
                        .map(u32::from_be_bytes)
                        .map_err(|_| StunError::BadAttribute(typ))?;
                    if got != fingerprint_of(&packet[..at]) {
                        return Err(StunError::BadFingerprint);
                    }
                    msg.has_fingerprint = true;
                }
                t if t < 0x8000 && !attr::KNOWN_REQUIRED.contains(&t) => {
                    msg.unknown_required.push(t)
                }
                _ => {}
            }
        }
        Ok(msg)
    }

    /// The address the server saw: XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS
    /// from servers that predate it.
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.xor_mapped_address.or(self.mapped_address)
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1) with `key` (for short-term
    /// credentials, the password). `false` if absent or wrong.
    pub fn verify_integrity(&self, key: &[u8]) -> bool {
        let Some(at) = self.integrity_at else {
            return false;
        };
        // The length field counts up to and including MESSAGE-INTEGRITY.
        let mut covered = self.raw[..at].to_vec();
        let length = (at + 24 - HEADER_LEN) as u16;
        covered[2..4].copy_from_slice(&length.to_be_bytes());
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
            return false;
        };
        mac.update(&covered);
        mac.verify_slice(&self.raw[at + 4..at + 24]).is_ok()
    }
}

/// Builds a message attribute by attribute.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    bytes: Vec<u8>,
}

impl MessageBuilder {
    /// A message of `class` and `method` with `transaction_id`.
    pub fn new(class: Class, method: u16, transaction_id: [u8; 12]) -> Self {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(&message_type(class, method).to_be_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        bytes.extend_from_slice(&transaction_id);
        Self { bytes }
    }

    fn attribute(mut self, typ: u16, value: &[u8]) -> Self {
        let len = value.len().min(usize::from(u16::MAX) - 4);
        self.bytes.extend_from_slice(&typ.to_be_bytes());
        self.bytes.extend_from_slice(&(len as u16).to_be_bytes());
        self.bytes.extend_from_slice(&value[..len]);
        while self.bytes.len() % 4 != 0 {
            self.bytes.push(0);
        }
        self.set_length();
        self
    }

    fn set_length(&mut self) {
        let len = (self.bytes.len() - HEADER_LEN) as u16;
        self.bytes[2..4].copy_from_slice(&len.to_be_bytes());
    }

    /// Adds XOR-MAPPED-ADDRESS.
    pub fn xor_mapped_address(self, addr: SocketAddr) -> Self {
        let cookie = MAGIC_COOKIE.to_be_bytes();
        let port = addr.port() ^ u16::from_be_bytes([cookie[0], cookie[1]]);
        let mut value = vec![0];
        match addr.ip() {
            IpAddr::V4(ip) => {
                value.push(0x01);
                value.extend_from_slice(&port.to_be_bytes());
                value.extend(ip.octets().iter().zip(cookie).map(|(b, c)| b ^ c));
            }
            IpAddr::V6(ip) => {
                value.push(0x02);
                value.extend_from_slice(&port.to_be_bytes());
                let mask = &self.bytes[4..20];
                value.extend(ip.octets().iter().zip(mask).map(|(b, m)| b ^ m));
            }
        }
        self.attribute(attr::XOR_MAPPED_ADDRESS, &value)
    }

    /// Adds MAPPED-ADDRESS.
    pub fn mapped_address(self, addr: SocketAddr) -> Self {
        let mut value = vec![0, if addr.is_ipv4() { 1 } else { 2 }];
        value.extend_from_slice(&addr.port().to_be_bytes());
        match addr.ip() {
            IpAddr::V4(ip) => value.extend_from_slice(&ip.octets()),
            IpAddr::V6(ip) => value.extend_from_slice(&ip.octets()),
        }
        self.attribute(attr::MAPPED_ADDRESS, &value)
    }

    /// Adds SOFTWARE (at most 763 bytes, cut at a character boundary).
    pub fn software(self, name: &str) -> Self {
        let mut end = name.len().min(763);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        self.attribute(attr::SOFTWARE, &name.as_bytes()[..end])
    }

    /// Adds ERROR-CODE (code 300-699).
    pub fn error_code(self, code: u16, reason: &str) -> Self {
        let mut value = vec![0, 0, (code / 100) as u8 & 0x07, (code % 100) as u8];
        value.extend_from_slice(reason.as_bytes());
        self.attribute(attr::ERROR_CODE, &value)
    }

    /// Adds any attribute (e.g. to test how peers treat unknown ones).
    pub fn raw_attribute(self, typ: u16, value: &[u8]) -> Self {
        self.attribute(typ, value)
    }

    /// Adds FINGERPRINT (must come last) and returns the bytes.
    pub fn fingerprint(mut self) -> Vec<u8> {
        // The length must already count the FINGERPRINT attribute.
        let len = (self.bytes.len() + 8 - HEADER_LEN) as u16;
        self.bytes[2..4].copy_from_slice(&len.to_be_bytes());
        let crc = fingerprint_of(&self.bytes);
        self.bytes
            .extend_from_slice(&attr::FINGERPRINT.to_be_bytes());
        self.bytes.extend_from_slice(&4u16.to_be_bytes());
        self.bytes.extend_from_slice(&crc.to_be_bytes());
        self.bytes
    }

    /// The bytes without FINGERPRINT.
    pub fn build(self) -> Vec<u8> {
        self.bytes
    }
}

/// A Binding request (with FINGERPRINT, as RFC 8489 recommends).
pub fn binding_request(transaction_id: [u8; 12]) -> Vec<u8> {
    MessageBuilder::new(Class::Request, METHOD_BINDING, transaction_id).fingerprint()
}

/// A Binding success response telling `source` its address.
pub fn binding_success(transaction_id: [u8; 12], source: SocketAddr, software: &str) -> Vec<u8> {
    MessageBuilder::new(Class::Success, METHOD_BINDING, transaction_id)
        .xor_mapped_address(source)
        .software(software)
        .fingerprint()
}

/// A Binding error response.
pub fn binding_error(transaction_id: [u8; 12], code: u16, reason: &str) -> Vec<u8> {
    MessageBuilder::new(Class::Error, METHOD_BINDING, transaction_id)
        .error_code(code, reason)
        .fingerprint()
}
