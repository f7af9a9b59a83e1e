//! The network transport of zkfl's parties: libp2p over TCP with Noise and yamux, a party's
//! libp2p identity derived from its ed25519 ledger key.
//!
//! - [`frame`]: the wire format of one message, a length-prefixed byte string of at most
//!   [`frame::MAX_FRAME`] bytes (libp2p's cbor codec caps requests at 1 MiB, so ours is of
//!   our own size and refuses anything larger before reading it).
//! - [`blob`]: blobs (models, updates, logs, proofs, key parameters) move in chunks of at most
//!   [`blob::CHUNK`] bytes, addressed by the blob's SHA-256 digest and the chunk's index,
//!   and are checked against the digest once whole.
//! - [`seal`]: blobs sealed to one reader (NaCl's crypto_box between the two ledger keys).
//! - [`traffic`]: bytes on the wire, counted under Noise and yamux.
//! - [`peer`]: one party on the network: a libp2p swarm run on a thread of its own, with a
//!   blocking handle for requests, replies and blobs (the task driver is synchronous).

pub mod blob;
pub mod frame;
pub mod peer;
pub mod seal;
pub mod traffic;

pub use blob::Digest;
pub use frame::FrameTap;
pub use libp2p::{Multiaddr, PeerId};
pub use peer::{Inbound, Peer, PeerConfig, Readers, peer_id_of, peer_id_of_public};
pub use traffic::Traffic;

/// What can go wrong on the network.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A message over [`frame::MAX_FRAME`] bytes, refused before it is sent.
    #[error("a message of {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes that are not a message of the protocol.
    #[error("a malformed message: {0}")]
    Malformed(String),
    /// No answer in time.
    #[error("no answer from {peer} within {seconds:.1} s")]
    Timeout {
        /// Who was asked.
        peer: PeerId,
        /// How long the caller waited.
        seconds: f64,
    },
    /// The request could not be delivered or answered (dial failure, closed connection, ...).
    #[error("request to {peer} failed: {reason}")]
    Failed {
        /// Who was asked.
        peer: PeerId,
        /// libp2p's reason.
        reason: String,
    },
    /// The other side refused (say, a blob this peer may not read).
    #[error("{peer} refused: {reason}")]
    Refused {
        /// Who refused.
        peer: PeerId,
        /// Its reason.
        reason: String,
    },
    /// A blob whose bytes do not hash to the digest it was asked by.
    #[error("blob {digest}: {reason}")]
    Blob {
        /// The digest asked for.
        digest: Digest,
        /// What was wrong.
        reason: String,
    },
    /// A blob that cannot be sealed to, or opened from, a peer: its id holds no usable
    /// ed25519 key, or the blob was not sealed by it to this party, or was altered.
    #[error("sealed blob: {0}")]
    Seal(String),
    /// A listen or dial address that does not work.
    #[error("address {addr}: {reason}")]
    Address {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The peer's network thread has stopped.
    #[error("the network thread has stopped")]
    Stopped,
    /// Setting up the swarm failed.
    #[error("libp2p: {0}")]
    Setup(String),
}
