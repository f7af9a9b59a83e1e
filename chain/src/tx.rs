//! Transactions: what an account signs, its canonical binary encoding, hash and checks.
//!
//! # Encoding (version 1)
//! ```text
//! Transaction       = "ZKTX" ‖ u8 version=1 ‖ u16 len ‖ chain_id ‖ from (20 bytes)
//!                     ‖ public key (32) ‖ u64 nonce ‖ u128 fee ‖ u64 timestamp (ms)
//!                     ‖ u32 len ‖ op as canonical JSON
//! SignedTransaction = "ZKST" ‖ u8 version=1 ‖ u32 len ‖ Transaction ‖ signature (64)
//! ```
//! Integers are big-endian. The encoding is unique: decoding rejects trailing bytes, unknown
//! versions, and op JSON that is not exactly the op's canonical JSON, so one transaction has
//! one hash. A signed transaction is at most [`MAX_TX_BYTES`]; decoding never allocates more
//! than the input and never panics.
//!
//! **Hash** = SHA-256 of the `Transaction` encoding. **Signature** = Ed25519 (ZIP215, see
//! [`crate::keys`]) over `"zkfl/tx/v1" ‖ 0x00 ‖ hash`.
//!
//! **Stateless checks** ([`SignedTransaction::verify`]): version, chain id (the ledger or shard
//! the transaction is for), `from` is the address of the public key, fee fits a balance
//! (`≤ i128::MAX`), and the signature. A [`VerifiedTx`] can only be made by these checks; the
//! nonce and the fee against the balance are checked when it is applied
//! ([`crate::execute`]).

use sha2::{Digest, Sha256};

use crate::account::Address;
use crate::codec::{DecodeError, Reader, Writer};
use crate::keys::{BatchVerifier, Domain, Keypair, PublicKey, Signature, SignatureError};
use crate::ops::Op;
use crate::store::Hash;

/// The transaction format version this crate writes and accepts.
pub const TX_VERSION: u8 = 1;
/// Largest signed transaction, in encoded bytes.
pub const MAX_TX_BYTES: usize = 128 * 1024;
/// Longest chain id.
pub const MAX_CHAIN_ID_LEN: usize = 64;

const TX_MAGIC: &[u8; 4] = b"ZKTX";
const SIGNED_MAGIC: &[u8; 4] = b"ZKST";

/// Why a transaction is not acceptable, before looking at the state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not a transaction.
    #[error("undecodable transaction: {0}")]
    Decode(#[from] DecodeError),
    /// Larger than [`MAX_TX_BYTES`].
    #[error("transaction too large: {size} bytes, at most {MAX_TX_BYTES}")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// A version this crate does not handle.
    #[error("unsupported transaction version {0}")]
    Version(u8),
    /// A chain id that is not 1 to 64 of `a-z 0-9 . _ -`.
    #[error("bad chain id {0:?}: 1 to {MAX_CHAIN_ID_LEN} of a-z 0-9 . _ -")]
    BadChainId(String),
    /// Meant for another chain or shard.
    #[error("transaction is for chain {found:?}, this is {expected:?}")]
    WrongChain {
        /// This ledger's chain id.
        expected: String,
        /// The transaction's.
        found: String,
    },
    /// `from` is not the address of the public key.
    #[error("from {from} is not the address of the signing key ({derived})")]
    AddressMismatch {
        /// The claimed sender.
        from: Address,
        /// The key's address.
        derived: Address,
    },
    /// The fee does not fit a balance.
    #[error("fee {0} exceeds the largest balance")]
    FeeTooLarge(u128),
    /// The op is not one a block may carry (a `SET` of too many ops, a bad path, …).
    #[error("bad ops: {0}")]
    Ops(#[from] crate::ops::OpError),
    /// The signature does not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// Checks a chain id: 1 to [`MAX_CHAIN_ID_LEN`] bytes of `a-z 0-9 . _ -`.
pub fn check_chain_id(chain_id: &str) -> Result<(), TxError> {
    let ok = !chain_id.is_empty()
        && chain_id.len() <= MAX_CHAIN_ID_LEN
        && chain_id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(TxError::BadChainId(chain_id.to_owned()))
    }
}

/// What an account signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Format version ([`TX_VERSION`]).
    pub version: u8,
    /// The chain (or shard) this transaction is for.
    pub chain_id: String,
    /// The sender: must be the address of `public_key`.
    pub from: Address,
    /// The sender's public key.
    pub public_key: PublicKey,
    /// The sender's next nonce (number of its transactions already included).
    pub nonce: u64,
    /// Paid to the block's proposer whether or not the ops succeed.
    pub fee: u128,
    /// When the sender made it, milliseconds since the Unix epoch (informational).
    pub timestamp: u64,
    /// The write: one op or a `SET` (all or nothing).
    pub ops: Op,
}

impl Transaction {
    /// A version-1 transaction from `key`'s account.
    pub fn new(
        chain_id: &str,
        key: &PublicKey,
        nonce: u64,
        fee: u128,
        timestamp: u64,
        ops: Op,
    ) -> Transaction {
        Transaction {
            version: TX_VERSION,
            chain_id: chain_id.to_owned(),
            from: Address::of(key),
            public_key: *key,
            nonce,
            fee,
            timestamp,
            ops,
        }
    }

    /// The canonical encoding. Panics only if `chain_id` exceeds 65535 bytes, which no
    /// decoded or checked transaction can (chain ids are at most [`MAX_CHAIN_ID_LEN`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::record(TX_MAGIC, self.version);
        w.bytes16(self.chain_id.as_bytes());
        w.raw(&self.from.0);
        w.raw(&self.public_key.0);
        w.u64(self.nonce);
        w.u128(self.fee);
        w.u64(self.timestamp);
        w.bytes32(self.ops.to_canonical_json().as_bytes());
        w.finish()
    }

    /// Decodes [`Transaction::encode`]'s output; rejects anything else.
    pub fn decode(bytes: &[u8]) -> Result<Transaction, TxError> {
        let mut r = Reader::record(bytes, TX_MAGIC, "transaction", TX_VERSION)?;
        let chain_id = r.str16("chain id", MAX_CHAIN_ID_LEN)?.to_owned();
        let from = Address(r.array("from")?);
        let public_key = PublicKey(r.array("public key")?);
        let nonce = r.u64("nonce")?;
        let fee = r.u128("fee")?;
        let timestamp = r.u64("timestamp")?;
        let text = r.str32("ops", MAX_TX_BYTES)?;
        r.finish()?;
        let ops =
            Op::from_json_text(text).map_err(|e| DecodeError::invalid("ops", e.to_string()))?;
        if ops.to_canonical_json() != text {
            return Err(DecodeError::invalid("ops", "not canonical JSON").into());
        }
        Ok(Transaction {
            version: TX_VERSION,
            chain_id,
            from,
            public_key,
            nonce,
            fee,
            timestamp,
            ops,
        })
    }

    /// SHA-256 of the encoding.
    pub fn hash(&self) -> Hash {
        Sha256::digest(self.encode()).into()
    }

    /// Signs the hash with `key` (which should be the key named in the transaction).
    pub fn sign(self, key: &Keypair) -> SignedTransaction {
        let signature = key.sign(Domain::Transaction, &self.hash());
        SignedTransaction {
            tx: self,
            signature,
        }
    }

    /// The checks that need neither the signature nor the state.
    fn check_fields(&self, chain_id: &str) -> Result<(), TxError> {
        if self.version != TX_VERSION {
            return Err(TxError::Version(self.version));
        }
        check_chain_id(&self.chain_id)?;
        if self.chain_id != chain_id {
            return Err(TxError::WrongChain {
                expected: chain_id.to_owned(),
                found: self.chain_id.clone(),
            });
        }
        let derived = Address::of(&self.public_key);
        if self.from != derived {
            return Err(TxError::AddressMismatch {
                from: self.from,
                derived,
            });
        }
        if i128::try_from(self.fee).is_err() {
            return Err(TxError::FeeTooLarge(self.fee));
        }
        // What decoding a block checks, checked at admission too: a transaction that could not
        // be read back must not make a block unreadable.
        self.ops.validate()?;
        Ok(())
    }
}

/// A transaction and its sender's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// Signature over the transaction hash in the transaction domain.
    pub signature: Signature,
}

impl SignedTransaction {
    /// The canonical encoding (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::record(SIGNED_MAGIC, TX_VERSION);
        w.bytes32(&self.tx.encode());
        w.raw(&self.signature.0);
        w.finish()
    }

    /// Decodes untrusted bytes (size limit, exact format).
    pub fn decode(bytes: &[u8]) -> Result<SignedTransaction, TxError> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(TxError::TooLarge { size: bytes.len() });
        }
        let mut r = Reader::record(bytes, SIGNED_MAGIC, "signed transaction", TX_VERSION)?;
        let tx = Transaction::decode(r.bytes32("transaction", MAX_TX_BYTES)?)?;
        let signature = Signature(r.array("signature")?);
        r.finish()?;
        Ok(SignedTransaction { tx, signature })
    }

    /// The transaction hash.
    pub fn hash(&self) -> Hash {
        self.tx.hash()
    }

    /// All stateless checks for a ledger whose chain id is `chain_id`, signature included.
    pub fn verify(self, chain_id: &str) -> Result<VerifiedTx, TxError> {
        let (hash, size) = self.prepare(chain_id)?;
        self.tx
            .public_key
            .verify(Domain::Transaction, &hash, &self.signature)?;
        Ok(VerifiedTx {
            signed: self,
            hash,
            size,
        })
    }

    /// Size and field checks; returns the hash and the encoded size.
    fn prepare(&self, chain_id: &str) -> Result<(Hash, usize), TxError> {
        self.tx.check_fields(chain_id)?;
        let encoded = self.tx.encode();
        let size = encoded.len() + 4 + 5 + self.signature.0.len();
        if size > MAX_TX_BYTES {
            return Err(TxError::TooLarge { size });
        }
        Ok((Sha256::digest(&encoded).into(), size))
    }
}

/// Verifies many signed transactions with one batch signature check (ZIP215: the same verdicts
/// as one by one). On failure names the first bad transaction by index.
pub fn verify_all(
    txs: Vec<SignedTransaction>,
    chain_id: &str,
) -> Result<Vec<VerifiedTx>, (usize, TxError)> {
    let mut batch = BatchVerifier::new();
    let mut prepared = Vec::with_capacity(txs.len());
    for (index, signed) in txs.into_iter().enumerate() {
        let (hash, size) = signed.prepare(chain_id).map_err(|e| (index, e))?;
        batch.queue(
            signed.tx.public_key,
            Domain::Transaction,
            hash,
            signed.signature,
        );
        prepared.push(VerifiedTx { signed, hash, size });
    }
    batch.verify().map_err(|(index, e)| (index, e.into()))?;
    Ok(prepared)
}

/// A signed transaction that passed every stateless check, with its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTx {
    signed: SignedTransaction,
    hash: Hash,
    size: usize,
}

impl VerifiedTx {
    /// The signed transaction.
    pub fn signed(&self) -> &SignedTransaction {
        &self.signed
    }

    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.signed.tx
    }

    /// The transaction hash.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// Its encoded size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Back to the signed transaction.
    pub fn into_signed(self) -> SignedTransaction {
        self.signed
    }
}
