//! The signature rule (ZIP 215) alone and in batches, against vectors that
//! tell it apart from `verify_strict`: every encoding of a small-order
//! point (canonical or not) as key and as R, a signature whose R carries a
//! small-order component, non-canonical S. Runs natively and in wasm.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};
use shared::sig::{verify, verify_batch, SigError, Signed};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// p = 2^255 - 19, little-endian.
fn field_prime_plus(extra: u8) -> [u8; 32] {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let (low, carry) = p[0].overflowing_add(extra);
    p[0] = low;
    assert!(!carry);
    p
}

/// Every 32-byte encoding that decodes to a point of small order: the
/// eight points' canonical encodings, and those with y ≥ p or a negative
/// zero x. ZIP 215 counts 14.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = EIGHT_TORSION
        .iter()
        .map(|p| p.compress().to_bytes())
        .collect();
    let mut candidates = Vec::new();
    for y in [0u8, 1] {
        let mut small = [0u8; 32];
        small[0] = y;
        candidates.push(small);
        candidates.push(field_prime_plus(y));
    }
    candidates.push(field_prime_plus(0)); // p: y = 0
    let mut minus_one = field_prime_plus(0);
    minus_one[0] -= 1; // p - 1: y = -1
    candidates.push(minus_one);
    for base in candidates {
        for sign in [0u8, 0x80] {
            let mut e = base;
            e[31] |= sign;
            if let Some(point) = CompressedEdwardsY(e).decompress() {
                if point.is_small_order() && !out.contains(&e) {
                    out.push(e);
                }
            }
        }
    }
    out
}

#[test]
fn every_small_order_key_and_r_passes_zip215_and_fails_strict() {
    let encodings = small_order_encodings();
    assert_eq!(encodings.len(), 14, "the 14 encodings ZIP 215 lists");
    let message = b"Zcash";
    let mut batch_sigs = Vec::new();
    for a in &encodings {
        for r in &encodings {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(r);
            // S = 0: [8](0 - R - kA) is the identity for small-order A, R.
            assert_eq!(verify(a, message, &sig), Ok(()), "A {a:02x?} R {r:02x?}");
            batch_sigs.push((*a, sig));
            // The old rule refused every one of them.
            if let Ok(key) = VerifyingKey::from_bytes(a) {
                assert!(key
                    .verify_strict(message, &Signature::from_bytes(&sig))
                    .is_err());
            }
        }
    }
    assert_eq!(batch_sigs.len(), 196);
    let batch: Vec<Signed<'_>> = batch_sigs
        .iter()
        .map(|(key, signature)| Signed {
            key,
            message,
            signature,
        })
        .collect();
    assert_eq!(verify_batch(&batch), Ok(()), "the batch agrees with each");
}

/// A signature by secret scalar `a` whose R has a small-order component
/// `t`: `[S]B = R - T + [k]A`, so only the cofactored equation holds.
fn mixed_signature(a: Scalar, t: EdwardsPoint, message: &[u8]) -> ([u8; 32], [u8; 64]) {
    let key = (ED25519_BASEPOINT_POINT * a).compress().to_bytes();
    let r = Scalar::from_bytes_mod_order([7; 32]);
    let big_r = (ED25519_BASEPOINT_POINT * r + t).compress().to_bytes();
    let mut h = Sha512::new();
    h.update(big_r);
    h.update(key);
    h.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    (key, sig)
}

#[test]
fn a_torsion_component_in_r_is_judged_alike_alone_and_in_a_batch() {
    let a = Scalar::from_bytes_mod_order([42; 32]);
    let message = b"bet pass 10";
    for t in &EIGHT_TORSION[1..] {
        let (key, sig) = mixed_signature(a, *t, message);
        // verify_strict (cofactorless) refuses it; ZIP 215 takes it: one
        // rule, whether alone or in a batch.
        let strict = VerifyingKey::from_bytes(&key)
            .unwrap()
            .verify_strict(message, &Signature::from_bytes(&sig));
        assert!(strict.is_err());
        assert_eq!(verify(&key, message, &sig), Ok(()));
        let honest = SigningKey::from_bytes(&[9; 32]);
        let honest_sig = honest.sign(message).to_bytes();
        let honest_key = honest.verifying_key().to_bytes();
        let batch = [
            Signed {
                key: &honest_key,
                message,
                signature: &honest_sig,
            },
            Signed {
                key: &key,
                message,
                signature: &sig,
            },
        ];
        assert_eq!(verify_batch(&batch), Ok(()));
    }
}

#[test]
fn honest_signatures_pass_and_tampered_ones_fail_alone_and_in_batches() {
    let keys: Vec<SigningKey> = (0..16u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let messages: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; 10 + i as usize]).collect();
    let sigs: Vec<[u8; 64]> = keys
        .iter()
        .zip(&messages)
        .map(|(k, m)| k.sign(m).to_bytes())
        .collect();
    let pubs: Vec<[u8; 32]> = keys.iter().map(|k| k.verifying_key().to_bytes()).collect();
    let batch = |sigs: &[[u8; 64]], messages: &[Vec<u8>]| -> Result<(), (usize, SigError)> {
        let items: Vec<Signed<'_>> = (0..16)
            .map(|i| Signed {
                key: &pubs[i],
                message: &messages[i],
                signature: &sigs[i],
            })
            .collect();
        verify_batch(&items)
    };
    for i in 0..16 {
        assert_eq!(verify(&pubs[i], &messages[i], &sigs[i]), Ok(()));
    }
    assert_eq!(batch(&sigs, &messages), Ok(()));
    // A flipped bit in a message, in R, in S: refused, and the batch says
    // which.
    let mut m = messages.clone();
    m[5][0] ^= 1;
    assert_eq!(verify(&pubs[5], &m[5], &sigs[5]), Err(SigError::Mismatch));
    assert_eq!(batch(&sigs, &m), Err((5, SigError::Mismatch)));
    let mut s = sigs.clone();
    s[11][40] ^= 1;
    assert!(verify(&pubs[11], &messages[11], &s[11]).is_err());
    assert_eq!(batch(&s, &messages).unwrap_err().0, 11);
    let mut r = sigs.clone();
    r[3][0] ^= 1;
    assert!(batch(&r, &messages).is_err_and(|(i, _)| i == 3));
    // S + l: the same S modulo the order, not canonical: refused.
    let l = Scalar::ZERO - Scalar::ONE; // l - 1
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&sigs[0][32..]);
    let s_scalar = Scalar::from_canonical_bytes(bytes).unwrap();
    // s + l as an integer, computed bytewise (fits: s < l < 2^253).
    let mut plus_l = [0u8; 64];
    plus_l[..32].copy_from_slice(&sigs[0][..32]);
    let mut carry = 0u16;
    let l_bytes = {
        let mut b = *l.as_bytes();
        b[0] += 1; // l - 1 + 1 (the low byte of l - 1 is 0xec)
        b
    };
    for i in 0..32 {
        let sum = s_scalar.as_bytes()[i] as u16 + l_bytes[i] as u16 + carry;
        plus_l[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    assert_eq!(verify(&pubs[0], &messages[0], &plus_l), Err(SigError::BadS));
    // A key that is no point.
    let bad_key = (2u8..)
        .map(|y| {
            let mut e = [0u8; 32];
            e[0] = y;
            e
        })
        .find(|e| CompressedEdwardsY(*e).decompress().is_none())
        .unwrap();
    assert_eq!(verify(&bad_key, b"x", &sigs[0]), Err(SigError::BadKey));
    assert_eq!(verify_batch(&[]), Ok(()));
}
