//! One Binding transaction as a sans-I/O state machine, with RFC 8489
//! section 6.2.1 retransmission: send at 0, RTO, 3 RTO, 7 RTO, ... (the
//! interval doubles), `max_transmissions` sends in all, then wait
//! `last_wait` RTOs for an answer before giving up. Time is passed in.

use std::net::SocketAddr;

use crate::stun::message::{binding_request, Class, StunError, StunMessage, METHOD_BINDING};

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// Retransmission parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retransmit {
    /// The first retransmission timeout (RFC default 500 ms).
    pub initial_rto: Millis,
    /// Sends in all (RFC `Rc`, default 7).
    pub max_transmissions: u32,
    /// After the last send, wait this many RTOs (RFC `Rm`, default 16).
    pub last_wait: u32,
}

impl Default for Retransmit {
    fn default() -> Self {
        Self {
            initial_rto: 500,
            max_transmissions: 7,
            last_wait: 16,
        }
    }
}

/// A server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The address the server saw us at.
    pub mapped: SocketAddr,
    /// Round trip from the first send.
    pub rtt: Millis,
    /// The server's SOFTWARE, if it sent one.
    pub software: Option<String>,
}

/// Why a transaction ended without an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// No answer in time.
    #[error("no answer after {0} sends")]
    TimedOut(u32),
    /// The server answered with an error response.
    #[error("server answered {code}: {reason}")]
    ErrorResponse {
        /// The error code.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
    /// A success response without a mapped address, or with
    /// comprehension-required attributes we do not understand.
    #[error("unusable response: {0}")]
    Unusable(String),
}

/// One Binding request and its retransmissions.
#[derive(Debug, Clone)]
pub struct Transaction {
    transaction_id: [u8; 12],
    request: Vec<u8>,
    policy: Retransmit,
    started: Millis,
    sends: u32,
    next_send: Millis,
    rto: Millis,
    finished: bool,
}

impl Transaction {
    /// A transaction whose first send is due at `now`.
    pub fn new(transaction_id: [u8; 12], policy: Retransmit, now: Millis) -> Self {
        Self {
            transaction_id,
            request: binding_request(transaction_id),
            policy,
            started: now,
            sends: 0,
            next_send: now,
            rto: policy.initial_rto.max(1),
            finished: false,
        }
    }

    /// The transaction id.
    pub fn transaction_id(&self) -> [u8; 12] {
        self.transaction_id
    }

    /// Sends so far.
    pub fn sends(&self) -> u32 {
        self.sends
    }

    /// The request to send now, if a (re)transmission is due.
    pub fn poll_transmit(&mut self, now: Millis) -> Option<&[u8]> {
        if self.finished || self.sends >= self.policy.max_transmissions || now < self.next_send {
            return None;
        }
        self.sends += 1;
        self.next_send = now + self.rto;
        if self.sends < self.policy.max_transmissions {
            self.rto = self.rto.saturating_mul(2);
        }
        Some(&self.request)
    }

    /// When to call [`Transaction::poll_transmit`] or
    /// [`Transaction::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.finished {
            return None;
        }
        if self.sends < self.policy.max_transmissions {
            Some(self.next_send)
        } else {
            Some(self.give_up_at())
        }
    }

    fn give_up_at(&self) -> Millis {
        // The last send went out at next_send - rto (rto no longer doubles).
        let last = self.next_send.saturating_sub(self.rto);
        last + self.policy.initial_rto.max(1) * Millis::from(self.policy.last_wait)
    }

    /// Whether the transaction has given up by `now`.
    pub fn handle_timeout(&mut self, now: Millis) -> Result<(), TransactionError> {
        if !self.finished && self.sends >= self.policy.max_transmissions && now >= self.give_up_at()
        {
            self.finished = true;
            return Err(TransactionError::TimedOut(self.sends));
        }
        Ok(())
    }

    /// Handles a packet from the server. `Ok(None)`: not an answer to this
    /// transaction (ignore it). Garbage is a [`StunError`].
    pub fn handle_response(
        &mut self,
        now: Millis,
        packet: &[u8],
    ) -> Result<Option<Result<Answer, TransactionError>>, StunError> {
        let msg = StunMessage::parse(packet)?;
        if self.finished
            || msg.transaction_id != self.transaction_id
            || msg.method != METHOD_BINDING
        {
            return Ok(None);
        }
        let result = match msg.class {
            Class::Success if !msg.unknown_required.is_empty() => {
                Err(TransactionError::Unusable(format!(
                    "unknown comprehension-required attributes {:04x?}",
                    msg.unknown_required
                )))
            }
            Class::Success => match msg.mapped() {
                Some(mapped) => Ok(Answer {
                    mapped,
                    rtt: now.saturating_sub(self.started),
                    software: msg.software.map(str::to_owned),
                }),
                None => Err(TransactionError::Unusable("no mapped address".into())),
            },
            Class::Error => {
                let (code, reason) = msg.error.unwrap_or((0, "no ERROR-CODE"));
                Err(TransactionError::ErrorResponse {
                    code,
                    reason: reason.to_owned(),
                })
            }
            Class::Request | Class::Indication => return Ok(None),
        };
        self.finished = true;
        Ok(Some(result))
    }
}
