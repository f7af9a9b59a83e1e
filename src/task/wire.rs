//! The driver's [`Request`]s and [`Reply`]s as bytes on the network ([`super::network`]).
//!
//! A message is a record (`chain::codec`: big-endian integers, length-prefixed bytes): magic
//! `ZKRQ` (request) or `ZKRP` (reply), version 1, a tag byte, the fields. What can be large
//! (a global model, an update's parameters, ceremony parameters) is not in the message but a
//! blob named by its SHA-256 digest, which the sender serves to the recipient and the
//! recipient fetches and checks ([`net::blob`]).
//!
//! A request carries its sender's sequence number, which rises with every request, so that a
//! recipient refuses a request it was sent before ([`request_sequence`] reads it before any
//! blob is fetched).
//!
//! ```text
//! request  sequence:u64, then by tag:
//!          1 Join      has_keys:u8 [keys digest:32]
//!          2 Train     round:u32 model digest:32            model blob: f32 LE
//!          3 Prove     round:u32
//! reply    1 Joined    has_tx:u8 [tx hash:32]
//!          2 Contributed  keys digest:32 registration:bytes32 (chain's signed transaction)
//!          3 Trained   params digest:32 samples:u64 train_loss:f32 bits:u32
//!                      head:32 root:32 steps:u64 update:32 ends:bytes32 (pol's LogEnds)
//!          4 Proved    n:u32, n × (step:u64 ok:u8 (tx hash:32 | reason:bytes32)
//!                      seconds:f64 bits:u64 reused:u8)
//!          5 Failed    reason:bytes32
//! keys blob  ZKKP v1 n:u8, n × (key name:bytes16 parameters:bytes32, arkworks canonical
//!            uncompressed, every point checked on reading)
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use chain::SignedTransaction;
use chain::codec::{Reader, Writer};
use chain::settlement::TaskKey;
use chain::task::LogPost;
use fl::blob::{bytes_to_f32s, f32s_to_bytes};
use pol::LogEnds;

use super::setup::KeyParameters;
use super::transport::{Reply, Request, SubmittedProof, Update};

const REQUEST: &[u8; 4] = b"ZKRQ";
const REPLY: &[u8; 4] = b"ZKRP";
const KEYS: &[u8; 4] = b"ZKKP";
const VERSION: u8 = 1;

/// The largest field of a message (a transaction, log ends, a reason), in bytes.
const MAX_FIELD: usize = 512 << 10;
/// The most proofs one reply lists.
const MAX_PROOFS: u32 = 4096;

/// Where a message's blobs go and come from: `put` serves bytes and names them by a digest,
/// `get` fetches the bytes served under a digest (over the network: the SHA-256 of the
/// sealed bytes, which are checked against it and then opened).
pub trait Blobs {
    /// Serves `bytes`; the digest they are served under.
    fn put(&mut self, bytes: Vec<u8>) -> Result<[u8; 32]>;
    /// The bytes served under `digest`, refused if over `max` bytes.
    fn get(&mut self, digest: [u8; 32], max: u64) -> Result<Vec<u8>>;
}

/// The largest model or update blob taken, in bytes (64 Mi f32 parameters).
pub const MAX_MODEL: u64 = 256 << 20;
/// The largest blob of ceremony parameters taken, in bytes.
pub const MAX_KEYS: u64 = net::blob::MAX_BLOB;

/// `request` as the sender's message number `sequence`, its blobs put in `blobs`.
///
/// Errors: those of [`Blobs::put`].
pub fn encode_request(request: &Request, sequence: u64, blobs: &mut dyn Blobs) -> Result<Vec<u8>> {
    let mut w = Writer::record(REQUEST, VERSION);
    w.u64(sequence);
    match request {
        Request::Join { keys } => {
            w.u8(1);
            match keys {
                Some(keys) => {
                    w.u8(1);
                    w.raw(&blobs.put(encode_keys(keys))?);
                }
                None => w.u8(0),
            }
        }
        Request::Train { round, model } => {
            w.u8(2);
            w.u32(*round);
            w.raw(&blobs.put(f32s_to_bytes(model))?);
        }
        Request::Prove { round } => {
            w.u8(3);
            w.u32(*round);
        }
    }
    Ok(w.finish())
}

/// The sequence number of a request message, read without fetching its blobs.
///
/// Errors: bytes that do not start as a request.
pub fn request_sequence(bytes: &[u8]) -> Result<u64> {
    let mut r = Reader::record(bytes, REQUEST, "request", VERSION)?;
    Ok(r.u64("sequence")?)
}

/// A message read as a request, its blobs fetched from `blobs`: its sequence number and the
/// request.
///
/// Errors: bytes that are not a request, blobs that cannot be fetched or do not decode.
pub fn decode_request(bytes: &[u8], blobs: &mut dyn Blobs) -> Result<(u64, Request)> {
    let mut r = Reader::record(bytes, REQUEST, "request", VERSION)?;
    let sequence = r.u64("sequence")?;
    let request = match r.u8("tag")? {
        1 => Request::Join {
            keys: match r.u8("has_keys")? {
                0 => None,
                1 => Some(decode_keys(&blobs.get(r.array("keys")?, MAX_KEYS)?)?),
                other => bail!("has_keys is {other}"),
            },
        },
        2 => {
            let round = r.u32("round")?;
            let model = blobs.get(r.array("model")?, MAX_MODEL)?;
            let model = Arc::new(bytes_to_f32s(&model).context("the global model")?);
            Request::Train { round, model }
        }
        3 => Request::Prove {
            round: r.u32("round")?,
        },
        tag => bail!("unknown request tag {tag}"),
    };
    r.finish()?;
    Ok((sequence, request))
}

/// `reply` as a message, its blobs put in `blobs`.
///
/// Errors: those of [`Blobs::put`].
pub fn encode_reply(reply: &Reply, blobs: &mut dyn Blobs) -> Result<Vec<u8>> {
    let mut w = Writer::record(REPLY, VERSION);
    match reply {
        Reply::Joined(hash) => {
            w.u8(1);
            match hash {
                Some(hash) => {
                    w.u8(1);
                    w.raw(hash);
                }
                None => w.u8(0),
            }
        }
        Reply::Contributed { keys, registration } => {
            w.u8(2);
            w.raw(&blobs.put(encode_keys(keys))?);
            w.bytes32(field("registration", &registration.encode())?);
        }
        Reply::Trained(update) => {
            w.u8(3);
            w.raw(&blobs.put(f32s_to_bytes(&update.params))?);
            w.u64(update.samples as u64);
            w.u32(update.train_loss.to_bits());
            w.raw(&update.post.head);
            w.raw(&update.post.root);
            w.u64(update.post.steps);
            w.raw(&update.post.update);
            w.bytes32(field("ends", &update.ends.encode())?);
        }
        Reply::Proved(proofs) => {
            w.u8(4);
            w.u32(proofs.len() as u32);
            for proof in proofs {
                w.u64(proof.step);
                match &proof.tx {
                    Ok(hash) => {
                        w.u8(1);
                        w.raw(hash);
                    }
                    Err(reason) => {
                        w.u8(0);
                        w.bytes32(truncated(reason));
                    }
                }
                w.u64(proof.seconds.to_bits());
                w.u8(u8::from(proof.reused));
            }
        }
        Reply::Failed(reason) => {
            w.u8(5);
            w.bytes32(truncated(reason));
        }
    }
    Ok(w.finish())
}

/// A message read as a reply, its blobs fetched from `blobs`.
///
/// Errors: bytes that are not a reply, blobs that cannot be fetched or do not decode.
pub fn decode_reply(bytes: &[u8], blobs: &mut dyn Blobs) -> Result<Reply> {
    let mut r = Reader::record(bytes, REPLY, "reply", VERSION)?;
    let reply = match r.u8("tag")? {
        1 => Reply::Joined(match r.u8("has_tx")? {
            0 => None,
            1 => Some(r.array("tx")?),
            other => bail!("has_tx is {other}"),
        }),
        2 => {
            let keys = decode_keys(&blobs.get(r.array("keys")?, MAX_KEYS)?)?;
            let registration = SignedTransaction::decode(r.bytes32("registration", MAX_FIELD)?)
                .context("the registration")?;
            Reply::Contributed {
                keys,
                registration: Box::new(registration),
            }
        }
        3 => {
            let params = r.array("params")?;
            let samples = r.u64("samples")?;
            let train_loss = f32::from_bits(r.u32("train_loss")?);
            let post = LogPost {
                head: r.array("head")?,
                root: r.array("root")?,
                steps: r.u64("steps")?,
                update: r.array("update")?,
            };
            let ends = LogEnds::decode(r.bytes32("ends", MAX_FIELD)?).context("the log's ends")?;
            Reply::Trained(Box::new(Update {
                params: bytes_to_f32s(&blobs.get(params, MAX_MODEL)?).context("the update")?,
                samples: usize::try_from(samples).context("samples")?,
                train_loss,
                post,
                ends,
            }))
        }
        4 => {
            let n = r.u32("proofs")?;
            ensure!(n <= MAX_PROOFS, "{n} proofs, over {MAX_PROOFS}");
            let mut proofs = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let step = r.u64("step")?;
                let tx = match r.u8("ok")? {
                    1 => Ok(r.array("tx")?),
                    0 => Err(r.str32("reason", MAX_FIELD)?.to_owned()),
                    other => bail!("ok is {other}"),
                };
                let seconds = f64::from_bits(r.u64("seconds")?);
                let reused = match r.u8("reused")? {
                    0 => false,
                    1 => true,
                    other => bail!("reused is {other}"),
                };
                proofs.push(SubmittedProof {
                    step,
                    tx,
                    seconds,
                    reused,
                });
            }
            Reply::Proved(proofs)
        }
        5 => Reply::Failed(r.str32("reason", MAX_FIELD)?.to_owned()),
        tag => bail!("unknown reply tag {tag}"),
    };
    r.finish()?;
    Ok(reply)
}

/// A reason cut to [`MAX_FIELD`] bytes at a character boundary.
fn truncated(reason: &str) -> &[u8] {
    let mut end = reason.len().min(MAX_FIELD);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason.as_bytes()[..end]
}

/// `bytes` if within [`MAX_FIELD`], which the recipient takes.
fn field<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a [u8]> {
    ensure!(
        bytes.len() <= MAX_FIELD,
        "the {name} of {} bytes is over the {MAX_FIELD}-byte limit",
        bytes.len()
    );
    Ok(bytes)
}

fn encode_keys(keys: &KeyParameters) -> Vec<u8> {
    let mut w = Writer::record(KEYS, VERSION);
    w.u8(keys.len() as u8);
    for (key, params) in keys.iter() {
        w.bytes16(key.name().as_bytes());
        w.bytes32(&ceremony::to_bytes(params));
    }
    w.finish()
}

fn decode_keys(bytes: &[u8]) -> Result<KeyParameters> {
    let mut r = Reader::record(bytes, KEYS, "key parameters", VERSION)?;
    let mut keys = BTreeMap::new();
    for _ in 0..r.u8("keys")? {
        let name = std::str::from_utf8(r.bytes16("key", 64)?).context("a key name")?;
        let key = TaskKey::from_name(name).with_context(|| format!("no task key {name:?}"))?;
        let params = ceremony::from_bytes(r.bytes32("parameters", usize::MAX)?)
            .with_context(|| format!("the {name} parameters"))?;
        ensure!(keys.insert(key, params).is_none(), "the {name} key twice");
    }
    r.finish()?;
    Ok(Arc::new(keys))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    use super::*;

    #[derive(Default)]
    struct Store(HashMap<[u8; 32], Vec<u8>>);

    impl Blobs for Store {
        fn put(&mut self, bytes: Vec<u8>) -> Result<[u8; 32]> {
            let digest: [u8; 32] = Sha256::digest(&bytes).into();
            self.0.insert(digest, bytes);
            Ok(digest)
        }
        fn get(&mut self, digest: [u8; 32], max: u64) -> Result<Vec<u8>> {
            let bytes = self.0.get(&digest).cloned().context("no such blob")?;
            ensure!(bytes.len() as u64 <= max, "over {max} bytes");
            Ok(bytes)
        }
    }

    #[test]
    fn requests_and_small_replies_round_trip() {
        let mut store = Store::default();
        for request in [
            Request::Join { keys: None },
            Request::Train {
                round: 3,
                model: Arc::new(vec![0.5, -1.25, f32::MIN_POSITIVE]),
            },
            Request::Prove { round: 7 },
        ] {
            let bytes = encode_request(&request, 41, &mut store).unwrap();
            assert_eq!(request_sequence(&bytes).unwrap(), 41);
            let (sequence, back) = decode_request(&bytes, &mut store).unwrap();
            assert_eq!(sequence, 41);
            assert_eq!(format!("{back:?}"), format!("{request:?}"));
        }
        for reply in [
            Reply::Joined(None),
            Reply::Joined(Some([4; 32])),
            Reply::Proved(vec![
                SubmittedProof {
                    step: 12,
                    tx: Ok([1; 32]),
                    seconds: 2.5,
                    reused: false,
                },
                SubmittedProof {
                    step: 13,
                    tx: Err("refused: é".into()),
                    seconds: 0.0,
                    reused: true,
                },
            ]),
            Reply::Failed("no data".into()),
        ] {
            let bytes = encode_reply(&reply, &mut store).unwrap();
            let back = decode_reply(&bytes, &mut store).unwrap();
            assert_eq!(format!("{back:?}"), format!("{reply:?}"));
        }
    }

    #[test]
    fn bytes_that_are_not_a_message_are_refused() {
        let mut store = Store::default();
        let good = encode_request(&Request::Prove { round: 1 }, 1, &mut store).unwrap();
        let mut trailing = good.clone();
        trailing.push(0);
        let mut tag = good.clone();
        tag[13] = 9;
        for bad in [
            &[][..],
            &good[..good.len() - 1],
            &trailing,
            &tag,
            b"ZKRP\x01\x05",
        ] {
            assert!(decode_request(bad, &mut store).is_err(), "{bad:?}");
        }
        // A model blob nobody serves, and one that is not f32 values.
        let mut w = Writer::record(REQUEST, VERSION);
        w.u64(1);
        w.u8(2);
        w.u32(1);
        w.raw(&[0; 32]);
        let missing = w.finish();
        assert!(decode_request(&missing, &mut store).is_err());
        let odd = store.put(vec![1, 2, 3]).unwrap();
        let mut w = Writer::record(REQUEST, VERSION);
        w.u64(1);
        w.u8(2);
        w.u32(1);
        w.raw(&odd);
        let err = decode_request(&w.finish(), &mut store).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a multiple of 4"),
            "{err:#}"
        );
        // A proof count past the cap is refused before anything is allocated.
        let mut w = Writer::record(REPLY, VERSION);
        w.u8(4);
        w.u32(u32::MAX);
        assert!(decode_reply(&w.finish(), &mut store).is_err());
    }

    proptest! {
        #[test]
        fn train_requests_round_trip(
            model in proptest::collection::vec(any::<u32>(), 0..300),
            round in any::<u32>(),
            sequence in any::<u64>(),
        ) {
            let model: Vec<f32> = model.into_iter().map(f32::from_bits).collect();
            let mut store = Store::default();
            let request = Request::Train { round, model: Arc::new(model.clone()) };
            let bytes = encode_request(&request, sequence, &mut store).unwrap();
            let (back_sequence, back) = decode_request(&bytes, &mut store).unwrap();
            prop_assert_eq!(back_sequence, sequence);
            let Request::Train { round: r, model: m } = back else {
                return Err(TestCaseError::fail("not a train request"));
            };
            prop_assert_eq!(r, round);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&m), bits(&model));
        }

        #[test]
        fn any_bytes_decode_to_a_message_or_an_error_never_a_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..300),
            tag in 0u8..7,
            sequence in any::<u64>(),
        ) {
            let mut store = Store::default();
            store.put(tail.clone()).unwrap();
            let _ = decode_request(&tail, &mut store);
            let _ = decode_reply(&tail, &mut store);
            // Past a good header, so that each tag's fields are read from noise.
            let mut w = Writer::record(REQUEST, VERSION);
            w.u64(sequence);
            w.u8(tag);
            let mut message = w.finish();
            message.extend_from_slice(&tail);
            let _ = decode_request(&message, &mut store);
            let mut w = Writer::record(REPLY, VERSION);
            w.u8(tag);
            let mut message = w.finish();
            message.extend_from_slice(&tail);
            let _ = decode_reply(&message, &mut store);
        }
    }
}
