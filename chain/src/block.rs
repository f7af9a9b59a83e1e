//! Blocks: header, transaction root, canonical encoding, hash and the proposer's signature.
//!
//! # Encoding (version 1)
//! ```text
//! BlockHeader = "ZKBH" ‖ u8 1 ‖ u16 len ‖ chain_id ‖ u64 height ‖ parent hash (32)
//!               ‖ u64 timestamp (ms) ‖ tx root (32) ‖ state root (32) ‖ proposer key (32)
//! Block       = "ZKBK" ‖ u8 1 ‖ u32 len ‖ BlockHeader ‖ signature (64)
//!               ‖ u32 count ‖ count × (u32 len ‖ SignedTransaction)
//! ```
//! **Block hash** = SHA-256 of the header encoding; the proposer signs it in the block domain
//! (`"zkfl/block/v1" ‖ 0x00 ‖ hash`, see [`crate::keys`]). The genesis block has height 0 and
//! parent hash all zeros. The header names its chain, so blocks of two shards never match.
//!
//! **Transaction root**: a binary Merkle tree over the transaction hashes in block order.
//! Leaf = `SHA-256(0x00 ‖ tx hash)`, inner node = `SHA-256(0x01 ‖ left ‖ right)`; at each level
//! a last node without a partner is carried up unchanged (never duplicated, so two different
//! lists never share a root). No transactions: `SHA-256("")`.
//!
//! A block holds at most [`MAX_BLOCK_TXS`] transactions and [`MAX_BLOCK_BYTES`] bytes.

use sha2::{Digest, Sha256};

use crate::codec::{DecodeError, Reader, Writer};
use crate::keys::{Domain, Keypair, PublicKey, Signature, SignatureError};
use crate::store::Hash;
use crate::tx::{MAX_CHAIN_ID_LEN, MAX_TX_BYTES, SignedTransaction, TxError};

/// Most transactions in one block.
pub const MAX_BLOCK_TXS: usize = 20_000;
/// Largest encoded block.
pub const MAX_BLOCK_BYTES: usize = 32 * 1024 * 1024;

const HEADER_MAGIC: &[u8; 4] = b"ZKBH";
const BLOCK_MAGIC: &[u8; 4] = b"ZKBK";
const BLOCK_VERSION: u8 = 1;
const MAX_HEADER_BYTES: usize = 1024;

/// Why stored or received block bytes are not a block.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockDecodeError {
    /// The block framing is wrong.
    #[error("bad block: {0}")]
    Block(#[from] DecodeError),
    /// A transaction inside does not decode.
    #[error("bad transaction {index} in block: {source}")]
    Tx {
        /// Its position.
        index: usize,
        /// Why.
        source: TxError,
    },
}

/// What the proposer signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// The chain (or shard) of this block.
    pub chain_id: String,
    /// 0 for genesis, then +1 per block.
    pub height: u64,
    /// Hash of the previous block's header (zeros for genesis).
    pub parent_hash: Hash,
    /// Block time, milliseconds since the Unix epoch; never before the parent's.
    pub timestamp: u64,
    /// Merkle root of the transaction hashes ([`tx_root`]).
    pub tx_root: Hash,
    /// State root after applying the block's transactions.
    pub state_root: Hash,
    /// The proposer's public key (its address receives the fees).
    pub proposer: PublicKey,
}

impl BlockHeader {
    /// The canonical header encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::record(HEADER_MAGIC, BLOCK_VERSION);
        w.bytes16(self.chain_id.as_bytes());
        w.u64(self.height);
        w.raw(&self.parent_hash);
        w.u64(self.timestamp);
        w.raw(&self.tx_root);
        w.raw(&self.state_root);
        w.raw(&self.proposer.0);
        w.finish()
    }

    /// Decodes [`BlockHeader::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<BlockHeader, DecodeError> {
        let mut r = Reader::record(bytes, HEADER_MAGIC, "block header", BLOCK_VERSION)?;
        let header = BlockHeader {
            chain_id: r.str16("chain id", MAX_CHAIN_ID_LEN)?.to_owned(),
            height: r.u64("height")?,
            parent_hash: r.array("parent hash")?,
            timestamp: r.u64("timestamp")?,
            tx_root: r.array("tx root")?,
            state_root: r.array("state root")?,
            proposer: PublicKey(r.array("proposer")?),
        };
        r.finish()?;
        Ok(header)
    }

    /// The block hash: SHA-256 of the header encoding.
    pub fn hash(&self) -> Hash {
        Sha256::digest(self.encode()).into()
    }

    /// The proposer's signature over the block hash.
    pub fn sign(&self, key: &Keypair) -> Signature {
        key.sign(Domain::Block, &self.hash())
    }

    /// Checks `signature` against the header's proposer key.
    pub fn verify_signature(&self, signature: &Signature) -> Result<(), SignatureError> {
        self.proposer.verify(Domain::Block, &self.hash(), signature)
    }
}

/// A header, its signature and its transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The proposer's signature over the header hash.
    pub signature: Signature,
    /// The included transactions, in application order.
    pub txs: Vec<SignedTransaction>,
}

impl Block {
    /// The block hash (of the header).
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// The canonical block encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::record(BLOCK_MAGIC, BLOCK_VERSION);
        w.bytes32(&self.header.encode());
        w.raw(&self.signature.0);
        w.u32(u32::try_from(self.txs.len()).expect("invariant: blocks hold few transactions"));
        for tx in &self.txs {
            w.bytes32(&tx.encode());
        }
        w.finish()
    }

    /// The header of encoded block bytes, without decoding the transactions after it.
    pub fn decode_header(bytes: &[u8]) -> Result<BlockHeader, BlockDecodeError> {
        let mut r = Reader::record(bytes, BLOCK_MAGIC, "block", BLOCK_VERSION)?;
        Ok(BlockHeader::decode(r.bytes32("header", MAX_HEADER_BYTES)?)?)
    }

    /// Decodes untrusted block bytes (size limits, exact format, every transaction).
    pub fn decode(bytes: &[u8]) -> Result<Block, BlockDecodeError> {
        if bytes.len() > MAX_BLOCK_BYTES {
            return Err(DecodeError::TooLong {
                field: "block",
                len: bytes.len(),
                max: MAX_BLOCK_BYTES,
            }
            .into());
        }
        let mut r = Reader::record(bytes, BLOCK_MAGIC, "block", BLOCK_VERSION)?;
        let header = BlockHeader::decode(r.bytes32("header", MAX_HEADER_BYTES)?)?;
        let signature = Signature(r.array("signature")?);
        let count = usize::try_from(r.u32("tx count")?).unwrap_or(usize::MAX);
        if count > MAX_BLOCK_TXS {
            return Err(DecodeError::TooLong {
                field: "tx count",
                len: count,
                max: MAX_BLOCK_TXS,
            }
            .into());
        }
        let mut txs = Vec::new();
        for index in 0..count {
            let tx_bytes = r.bytes32("transaction", MAX_TX_BYTES)?;
            let tx = SignedTransaction::decode(tx_bytes)
                .map_err(|source| BlockDecodeError::Tx { index, source })?;
            txs.push(tx);
        }
        r.finish()?;
        Ok(Block {
            header,
            signature,
            txs,
        })
    }
}

/// The Merkle root of transaction hashes (see the module docs).
pub fn tx_root(hashes: &[Hash]) -> Hash {
    if hashes.is_empty() {
        return Sha256::digest([]).into();
    }
    let mut level: Vec<Hash> = hashes.iter().map(|h| node_hash(0x00, &[h])).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => node_hash(0x01, &[left, right]),
                [single] => *single,
                _ => unreachable!("invariant: chunks(2) yields one or two"),
            })
            .collect();
    }
    level[0]
}

fn node_hash(tag: u8, parts: &[&Hash]) -> Hash {
    let mut h = Sha256::new();
    h.update([tag]);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}
