//! Blobs sealed to one reader, so that bytes captured on their way (or served to the wrong
//! peer) say nothing: NaCl's authenticated `crypto_box` (X25519 key agreement, then
//! XSalsa20-Poly1305; RustCrypto's `crypto_box` crate) between the sender's and the
//! recipient's ledger keys.
//!
//! A party has one key, its ed25519 ledger key (its [`PeerId`] holds the public half). For the
//! box, both halves are mapped to X25519 by the birational map of RFC 7748 §4.1, as
//! libsodium's `crypto_sign_ed25519_*_to_curve25519` does, with ed25519-dalek's own
//! `to_scalar_bytes` and `to_montgomery` (on using one key pair for both, see Thormarker,
//! "On using the same key pair for Ed25519 and an X25519 based KEM", eprint 2021/509). As
//! libsodium, a key off the prime-order subgroup (of small or of mixed order) is refused:
//! with one, the box key would leak the other side's secret scalar modulo the cofactor.
//!
//! The box key of two parties is the same both ways, so the sealed plaintext starts with the
//! sender's X25519 key, and a blob opens only as from the party that sealed it.
//!
//! Layout of a sealed blob: a 24-byte random nonce ‖ the ciphertext (of the sender's 32-byte
//! X25519 key ‖ the plaintext, plus a 16-byte Poly1305 tag); [`OVERHEAD`] bytes in all over
//! the plaintext.

use crypto_box::aead::{Aead, AeadCore, OsRng};
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use libp2p::identity;
use libp2p::multihash::Multihash;

use crate::{NetError, PeerId};

/// Bytes a sealed blob has over its plaintext: the nonce, the sender's key and the tag.
pub const OVERHEAD: usize = NONCE + SENDER + 16;

const NONCE: usize = 24;
const SENDER: usize = 32;

/// The multihash code of an identity hash: a [`PeerId`] that holds its public key inline.
const IDENTITY: u64 = 0;

/// Seals `plaintext` from the party with ed25519 secret `secret` to peer `to`.
///
/// Errors: [`NetError::Seal`] when `to` names no usable ed25519 key (a hashed or non-ed25519
/// peer id, or a key off the prime-order subgroup).
pub fn seal(secret: [u8; 32], to: &PeerId, plaintext: &[u8]) -> Result<Vec<u8>, NetError> {
    let secret = box_secret(secret);
    let sealer = SalsaBox::new(&box_public(to)?, &secret);
    let nonce = SalsaBox::generate_nonce(&mut OsRng);
    let mut signed = Vec::with_capacity(SENDER + plaintext.len());
    signed.extend_from_slice(secret.public_key().as_bytes());
    signed.extend_from_slice(plaintext);
    let sealed = sealer
        .encrypt(&nonce, &signed[..])
        .map_err(|_| NetError::Seal(format!("{} bytes could not be sealed", plaintext.len())))?;
    let mut out = Vec::with_capacity(NONCE + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a blob `from` sealed to the party with ed25519 secret `secret`.
///
/// Errors: [`NetError::Seal`] when `from` names no usable key, the blob is shorter than
/// [`OVERHEAD`], or it was not sealed by `from` to this party (or was altered).
pub fn open(secret: [u8; 32], from: &PeerId, sealed: &[u8]) -> Result<Vec<u8>, NetError> {
    let not_ours = || NetError::Seal(format!("a blob not sealed by {from} to this peer"));
    if sealed.len() < OVERHEAD {
        return Err(NetError::Seal(format!(
            "a sealed blob of {} bytes, under the {OVERHEAD} of nonce and tag",
            sealed.len()
        )));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE);
    let sender = box_public(from)?;
    let mut opened = SalsaBox::new(&sender, &box_secret(secret))
        .decrypt(nonce.into(), ciphertext)
        .map_err(|_| not_ours())?;
    if opened[..SENDER] != sender.as_bytes()[..] {
        return Err(not_ours());
    }
    opened.drain(..SENDER);
    Ok(opened)
}

fn box_secret(secret: [u8; 32]) -> SecretKey {
    SecretKey::from(ed25519_dalek::SigningKey::from_bytes(&secret).to_scalar_bytes())
}

/// The X25519 public key of the ed25519 key `peer` holds inline.
fn box_public(peer: &PeerId) -> Result<PublicKey, NetError> {
    let unusable = |why: &str| NetError::Seal(format!("peer {peer}: {why}"));
    let hash =
        Multihash::<64>::from_bytes(&peer.to_bytes()).map_err(|_| unusable("not a multihash"))?;
    if hash.code() != IDENTITY {
        return Err(unusable("its id does not hold its key"));
    }
    let key = identity::PublicKey::try_decode_protobuf(hash.digest())
        .map_err(|_| unusable("not a public key"))?
        .try_into_ed25519()
        .map_err(|_| unusable("not an ed25519 key"))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key.to_bytes())
        .map_err(|_| unusable("not a point of the curve"))?;
    if key.is_weak() || !key.to_edwards().is_torsion_free() {
        return Err(unusable("a key off the prime-order subgroup"));
    }
    Ok(PublicKey::from(key.to_montgomery().to_bytes()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::peer::peer_id_of;

    fn id(secret: [u8; 32]) -> PeerId {
        peer_id_of(secret).unwrap()
    }

    #[test]
    fn the_mapped_keys_agree_with_x25519_of_the_mapped_secret() {
        // The map of the public key equals the X25519 public key of the mapped secret, so
        // the two sides of a box derive one shared key.
        for s in 0..8u8 {
            let secret = [s.wrapping_mul(37).wrapping_add(1); 32];
            assert_eq!(
                box_public(&id(secret)).unwrap().as_bytes(),
                box_secret(secret).public_key().as_bytes()
            );
        }
    }

    #[test]
    fn a_hashed_peer_id_or_one_of_no_key_has_no_key_to_seal_to() {
        let hashed = PeerId::from_multihash(Multihash::wrap(0x12, &[7; 32]).unwrap()).unwrap();
        let err = seal([1; 32], &hashed, b"x").unwrap_err();
        assert!(err.to_string().contains("does not hold its key"), "{err}");
        let err = seal([1; 32], &PeerId::random(), b"x").unwrap_err();
        assert!(err.to_string().contains("not a public key"), "{err}");
    }

    #[test]
    fn a_key_off_the_prime_order_subgroup_is_refused() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        let honest = ed25519_dalek::SigningKey::from_bytes(&[5; 32])
            .verifying_key()
            .to_edwards();
        let id_of = |point: curve25519_dalek::EdwardsPoint| {
            let key =
                identity::ed25519::PublicKey::try_from_bytes(&point.compress().to_bytes()).unwrap();
            identity::PublicKey::from(key).to_peer_id()
        };
        assert!(seal([1; 32], &id_of(honest), b"x").is_ok());
        // Of small order alone, and mixed with an honest key (order 8 and order 2 parts).
        for point in [
            EIGHT_TORSION[1],
            honest + EIGHT_TORSION[1],
            honest + EIGHT_TORSION[4],
        ] {
            let err = seal([1; 32], &id_of(point), b"x").unwrap_err();
            assert!(err.to_string().contains("prime-order subgroup"), "{err}");
        }
    }

    #[test]
    fn a_blob_opens_only_as_from_its_sender() {
        // The box key of two parties is one both ways: without the sender in the plaintext,
        // what the owner sealed to the provider would open at the owner as from the provider.
        let (owner, provider) = ([1; 32], [2; 32]);
        let sealed = seal(owner, &id(provider), b"model").unwrap();
        assert!(matches!(
            open(owner, &id(provider), &sealed),
            Err(NetError::Seal(_))
        ));
        assert_eq!(open(provider, &id(owner), &sealed).unwrap(), b"model");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn only_the_recipient_opens_and_only_from_the_sender(
            plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
            flip in any::<usize>(),
        ) {
            let (owner, provider, stranger) = ([1; 32], [2; 32], [3; 32]);
            let sealed = seal(owner, &id(provider), &plaintext).unwrap();
            prop_assert_eq!(sealed.len(), plaintext.len() + OVERHEAD);
            prop_assert_eq!(&open(provider, &id(owner), &sealed).unwrap(), &plaintext);
            // Not the stranger, not as from another sender, not one altered bit.
            prop_assert!(open(stranger, &id(owner), &sealed).is_err());
            prop_assert!(open(provider, &id(stranger), &sealed).is_err());
            let mut altered = sealed.clone();
            altered[flip % sealed.len()] ^= 1;
            prop_assert!(open(provider, &id(owner), &altered).is_err());
            prop_assert!(open(provider, &id(owner), &sealed[..OVERHEAD - 1]).is_err());
        }

        #[test]
        fn two_seals_of_one_blob_differ(plaintext in proptest::collection::vec(any::<u8>(), 1..64)) {
            let to = id([2; 32]);
            prop_assert_ne!(seal([1; 32], &to, &plaintext).unwrap(), seal([1; 32], &to, &plaintext).unwrap());
        }
    }
}
