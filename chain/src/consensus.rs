//! Who may propose a block, how a block's authority is checked, and when it is final.
//!
//! The [`Consensus`] trait is what a [`crate::ledger::Ledger`] asks: the proposer at a height,
//! a signature for a block this node proposes, whether a received or stored header carries a
//! valid proposer signature, and whether a height is final. [`SingleValidator`] is the one
//! implementation: a single key proposes every block, on demand, and every block is final as
//! soon as it is stored (no forks are possible with one proposer). A shard is another ledger
//! with its own chain id, file and `SingleValidator`.

use crate::block::BlockHeader;
use crate::keys::{Keypair, PublicKey, Signature, SignatureError};

/// Why consensus refused a block.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    /// This node has no key for the proposer at this height.
    #[error("this node may not propose at height {height}: the proposer is {proposer}")]
    NotProposer {
        /// The height.
        height: u64,
        /// Who may propose.
        proposer: PublicKey,
    },
    /// The header names another proposer.
    #[error("block {height} names proposer {found}, expected {expected}")]
    WrongProposer {
        /// The height.
        height: u64,
        /// The allowed proposer.
        expected: PublicKey,
        /// The named one.
        found: PublicKey,
    },
    /// The proposer signature does not verify.
    #[error("block {height}: {source}")]
    BadSignature {
        /// The height.
        height: u64,
        /// Why.
        source: SignatureError,
    },
}

/// The rules of block authority.
pub trait Consensus {
    /// The only key that may propose the block at `height`.
    fn proposer(&self, height: u64) -> PublicKey;

    /// Signs `header` if this node is its height's proposer.
    fn sign(&self, header: &BlockHeader) -> Result<Signature, ConsensusError>;

    /// Whether `height` is final once the chain's tip is `tip` (final blocks never change).
    fn is_final(&self, height: u64, tip: u64) -> bool;

    /// Checks that `header` names its height's proposer and that `signature` is theirs.
    fn validate(&self, header: &BlockHeader, signature: &Signature) -> Result<(), ConsensusError> {
        let expected = self.proposer(header.height);
        if header.proposer != expected {
            return Err(ConsensusError::WrongProposer {
                height: header.height,
                expected,
                found: header.proposer,
            });
        }
        header
            .verify_signature(signature)
            .map_err(|source| ConsensusError::BadSignature {
                height: header.height,
                source,
            })
    }
}

/// One validator proposes and finalizes every block.
#[derive(Debug)]
pub struct SingleValidator {
    public: PublicKey,
    key: Option<Keypair>,
}

impl SingleValidator {
    /// This node is the validator: it signs with `key`.
    pub fn new(key: Keypair) -> SingleValidator {
        SingleValidator {
            public: key.public(),
            key: Some(key),
        }
    }

    /// This node only follows and verifies blocks of the validator `public`.
    pub fn follower(public: PublicKey) -> SingleValidator {
        SingleValidator { public, key: None }
    }
}

impl Consensus for SingleValidator {
    fn proposer(&self, _height: u64) -> PublicKey {
        self.public
    }

    fn sign(&self, header: &BlockHeader) -> Result<Signature, ConsensusError> {
        match &self.key {
            Some(key) if header.proposer == self.public => Ok(header.sign(key)),
            _ => Err(ConsensusError::NotProposer {
                height: header.height,
                proposer: self.public,
            }),
        }
    }

    fn is_final(&self, height: u64, tip: u64) -> bool {
        height <= tip
    }
}
