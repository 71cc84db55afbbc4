//! One signature rule for every peer, the relay and the verifier: ed25519
//! checked by ZIP 215, alone or in batches, with the same answer either
//! way.
//!
//! `ed25519-dalek`'s `verify_strict` checks `[S]B = R + [k]A` (no
//! cofactor) and refuses small-order `A` and `R`; its batch check is
//! cofactored (`[8][S]B = [8]R + [8][k]A`). The two disagree on crafted
//! signatures (a small-order component in `R` or `A`), so a batch could
//! pass one peer and a single check fail another: peers that check
//! differently would disagree on which messages exist. ZIP 215 fixes one
//! rule for both:
//!
//! - `A` and `R` are decoded as the 32-byte encodings they are, even when
//!   not canonical (`y` at or above the field prime, or a "negative zero"
//!   `x`): curve25519-dalek's decompression does exactly that.
//! - `S` must be canonical (below the group order `l`).
//! - `k = SHA-512(R ‖ A ‖ M)` over the bytes as sent, reduced mod `l`.
//! - Accept when `[8]([S]B - R - [k]A)` is the identity.
//!
//! Every signature `verify_strict` accepts is accepted here (the
//! cofactored equation follows from the plain one). The batch check
//! draws a 128-bit coefficient `z_i` per signature from a SHA-512 of the
//! whole batch (deterministic: no randomness source needed in the
//! browser; a forger cannot choose messages to cancel coefficients it
//! cannot predict) and accepts when `[8](-(Σ z_i S_i) B + Σ z_i R_i +
//! Σ (z_i k_i) A_i)` is the identity: the same cofactored equation, so a
//! batch passes exactly when every one of its signatures passes alone
//! (but with probability 2^-128).

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// The public key is no curve point.
    #[error("the public key is not a curve point")]
    BadKey,
    /// `R` is no curve point.
    #[error("the signature's R is not a curve point")]
    BadR,
    /// `S` is not below the group order.
    #[error("the signature's S is not canonical")]
    BadS,
    /// The equation does not hold.
    #[error("the signature does not match")]
    Mismatch,
}

/// One signature to check: the signer's key, the message, the signature.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// The signer's public key (32 bytes as sent).
    pub key: &'a [u8; 32],
    /// What was signed.
    pub message: &'a [u8],
    /// `R ‖ S`.
    pub signature: &'a [u8; 64],
}

/// The decoded parts of one signature: `A`, `R`, `S` and `k`.
struct Parts {
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// The key's point (decompressed; non-canonical encodings taken as they
/// decode).
pub fn key_point(key: &[u8; 32]) -> Result<EdwardsPoint, SigError> {
    CompressedEdwardsY(*key)
        .decompress()
        .ok_or(SigError::BadKey)
}

fn parts(item: &Signed<'_>, a: Option<&EdwardsPoint>) -> Result<Parts, SigError> {
    let a = match a {
        Some(a) => *a,
        None => key_point(item.key)?,
    };
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&item.signature[..32]);
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(SigError::BadR)?;
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&item.signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or(SigError::BadS)?;
    let mut h = Sha512::new();
    h.update(r_bytes);
    h.update(item.key);
    h.update(item.message);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    Ok(Parts { a, r, s, k })
}

/// Checks one signature (ZIP 215).
pub fn verify(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Result<(), SigError> {
    verify_parts(parts(
        &Signed {
            key,
            message,
            signature,
        },
        None,
    )?)
}

/// [`verify`] with the key already decompressed (`point` must be
/// [`key_point`] of `key`: a peer keeps its players' keys, and
/// decompressing one costs a tenth of a check).
pub fn verify_prepared(
    point: &EdwardsPoint,
    key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SigError> {
    verify_parts(parts(
        &Signed {
            key,
            message,
            signature,
        },
        Some(point),
    )?)
}

fn verify_parts(p: Parts) -> Result<(), SigError> {
    // [k](-A) + [S]B - R, times the cofactor.
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &-p.a, &p.s) - p.r;
    if check.mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(SigError::Mismatch)
    }
}

/// Checks every signature of `batch` at once (ZIP 215, the same answer as
/// [`verify`] on each). On failure, says which: the first that fails
/// alone, with its error.
pub fn verify_batch(batch: &[Signed<'_>]) -> Result<(), (usize, SigError)> {
    match batch {
        [] => return Ok(()),
        [one] => return verify(one.key, one.message, one.signature).map_err(|e| (0, e)),
        _ => {}
    }
    let mut decoded = Vec::with_capacity(batch.len());
    for (i, item) in batch.iter().enumerate() {
        decoded.push(parts(item, None).map_err(|e| (i, e))?);
    }
    // The coefficients: 128 bits each from a hash of the whole batch.
    let mut seed = Sha512::new();
    seed.update(b"bitcraps zip215 batch");
    for item in batch {
        seed.update(item.key);
        seed.update(item.signature);
        seed.update((item.message.len() as u64).to_le_bytes());
        seed.update(item.message);
    }
    let seed = seed.finalize();
    let z: Vec<Scalar> = (0..batch.len() as u64)
        .map(|i| {
            let mut h = Sha512::new();
            h.update(seed);
            h.update(i.to_le_bytes());
            let mut bytes = [0u8; 32];
            bytes[..16].copy_from_slice(&h.finalize()[..16]);
            Scalar::from_bytes_mod_order(bytes)
        })
        .collect();
    let b_coefficient = -decoded.iter().zip(&z).map(|(p, z)| p.s * z).sum::<Scalar>();
    let scalars = std::iter::once(b_coefficient)
        .chain(z.iter().copied())
        .chain(decoded.iter().zip(&z).map(|(p, z)| p.k * z));
    let points = std::iter::once(curve25519_dalek::constants::ED25519_BASEPOINT_POINT)
        .chain(decoded.iter().map(|p| p.r))
        .chain(decoded.iter().map(|p| p.a));
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points);
    if sum.mul_by_cofactor().is_identity() {
        return Ok(());
    }
    // Which one: checked alone.
    for (i, item) in batch.iter().enumerate() {
        verify(item.key, item.message, item.signature).map_err(|e| (i, e))?;
    }
    // (Each passes alone: only a 2^-128 coincidence of coefficients
    // gets here; the single checks are the rule.)
    Ok(())
}
