//! Applying a verified transaction to the state, and its receipt.
//!
//! Order of checks, all before anything is written:
//! 1. the nonce at `/accounts/<from>/nonce` (absent = 0) must equal the transaction's nonce;
//! 2. the fee must be at most the sender's balance.
//!
//! A transaction failing either is **rejected**: it changes nothing at all, not even the nonce,
//! and is not included in a block. Otherwise, in one nested [`StateTxn`]:
//! 1. the fee moves from the sender's balance to the proposer's (the fee sink);
//! 2. the nonce becomes `nonce + 1`;
//! 3. the ops are applied with rule and owner checks, as the sender, in a further nested
//!    transaction ([`crate::apply::apply_in`]).
//!
//! If the ops fail (a rule denies, a function fails, one op of a `SET` is bad), only step 3 is
//! rolled back: the transaction is included with a failed [`Receipt`], and the only changes it
//! made are the fee and the nonce. Signature, chain id and sender address were checked when the
//! [`VerifiedTx`] was made.

use crate::account::Address;
use crate::apply::apply_in;
use crate::codec::{DecodeError, Reader, Writer};
use crate::functions::builtin::{credit, debit};
use crate::functions::{Context, FunctionError, NativeFunctions, RecentBlocks};
use crate::state::StateTxn;
use crate::store::Hash;
use crate::tx::VerifiedTx;
use crate::value::Value;

/// Longest failure reason kept in a receipt.
pub const MAX_REASON_BYTES: usize = 1024;

const RECEIPT_MAGIC: &[u8; 4] = b"ZKRC";
const RECEIPT_VERSION: u8 = 1;

/// The block a transaction is applied in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEnv {
    /// Height of the block.
    pub height: u64,
    /// Block time, milliseconds since the Unix epoch (`currentTime` in rules).
    pub time: u64,
    /// Who receives the fees.
    pub proposer: Address,
    /// Hashes of the blocks before it, for functions.
    pub recent: RecentBlocks,
}

/// Why a transaction was rejected; a rejected transaction changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The nonce is not the account's next nonce.
    #[error("bad nonce for {from}: expected {expected}, got {found}")]
    BadNonce {
        /// The sender.
        from: Address,
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        found: u64,
    },
    /// The balance cannot pay the fee.
    #[error("fee {fee} exceeds the balance {balance} of {from}")]
    FeeOverBalance {
        /// The sender.
        from: Address,
        /// Its balance.
        balance: i128,
        /// The fee.
        fee: u128,
    },
    /// The account's nonce or balance holds something that is not a valid count.
    #[error("account {0} is corrupt: {1}")]
    CorruptAccount(Address, String),
    /// Paying the fee failed (e.g. the proposer's balance would overflow).
    #[error("fee payment failed: {0}")]
    FeePayment(FunctionError),
}

/// Whether an included transaction's ops were applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// The ops were applied.
    Applied,
    /// The ops were rolled back for this reason; only fee and nonce changed.
    Failed(String),
}

/// The result of an included transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction hash.
    pub tx_hash: Hash,
    /// Applied or failed (with the reason).
    pub outcome: TxOutcome,
    /// The fee charged (the whole fee: there is no gas metering).
    pub fee: u128,
}

impl Receipt {
    /// True when the ops were applied.
    pub fn is_ok(&self) -> bool {
        self.outcome == TxOutcome::Applied
    }

    /// Binary encoding: `"ZKRC" ‖ 1 ‖ hash ‖ u128 fee ‖ u8 status ‖ u32 len ‖ reason`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::record(RECEIPT_MAGIC, RECEIPT_VERSION);
        w.raw(&self.tx_hash);
        w.u128(self.fee);
        match &self.outcome {
            TxOutcome::Applied => {
                w.u8(0);
                w.bytes32(&[]);
            }
            TxOutcome::Failed(reason) => {
                w.u8(1);
                w.bytes32(reason.as_bytes());
            }
        }
        w.finish()
    }

    /// Decodes [`Receipt::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<Receipt, DecodeError> {
        let mut r = Reader::record(bytes, RECEIPT_MAGIC, "receipt", RECEIPT_VERSION)?;
        let tx_hash = r.array("tx hash")?;
        let fee = r.u128("fee")?;
        let status = r.u8("status")?;
        let reason = r.str32("reason", MAX_REASON_BYTES)?;
        r.finish()?;
        let outcome = match status {
            0 if reason.is_empty() => TxOutcome::Applied,
            1 => TxOutcome::Failed(reason.to_owned()),
            _ => return Err(DecodeError::invalid("status", format!("{status}"))),
        };
        Ok(Receipt {
            tx_hash,
            outcome,
            fee,
        })
    }
}

/// Cuts `text` to at most [`MAX_REASON_BYTES`] on a character boundary.
fn clip_reason(mut text: String) -> String {
    if text.len() > MAX_REASON_BYTES {
        let mut end = MAX_REASON_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Applies `vtx` inside `txn` (see the module docs). `Err` = rejected, nothing changed.
pub fn apply_tx(
    txn: &mut StateTxn<'_>,
    vtx: &VerifiedTx,
    env: &BlockEnv,
    natives: &dyn NativeFunctions,
) -> Result<Receipt, Rejection> {
    let tx = vtx.tx();
    let from = tx.from;
    let corrupt = |what: &str| Rejection::CorruptAccount(from, what.to_owned());
    let nonce = match txn.get_value(&from.nonce_path()) {
        Value::Null => 0,
        Value::Int(n) => u64::try_from(n).map_err(|_| corrupt("nonce out of range"))?,
        _ => return Err(corrupt("nonce is not an integer")),
    };
    if tx.nonce != nonce {
        return Err(Rejection::BadNonce {
            from,
            expected: nonce,
            found: tx.nonce,
        });
    }
    let next = nonce
        .checked_add(1)
        .ok_or_else(|| corrupt("nonce exhausted"))?;
    let balance = txn
        .get_int(&from.balance_path())
        .ok_or_else(|| corrupt("balance is not an integer"))?;
    let fee = i128::try_from(tx.fee).map_err(|_| Rejection::FeeOverBalance {
        from,
        balance,
        fee: tx.fee,
    })?;
    if fee > balance {
        return Err(Rejection::FeeOverBalance {
            from,
            balance,
            fee: tx.fee,
        });
    }

    let mut charged = txn.nested();
    if fee > 0 {
        debit(&mut charged, &from.balance_path(), fee).map_err(Rejection::FeePayment)?;
        credit(&mut charged, &env.proposer.balance_path(), fee).map_err(Rejection::FeePayment)?;
    }
    charged
        .set_value(&from.nonce_path(), Value::Int(i128::from(next)))
        .map_err(|e| Rejection::FeePayment(e.into()))?;
    let mut ctx = Context::new(&from.to_string(), env.time, env.height);
    ctx.recent = env.recent.clone();
    let outcome = match apply_in(&mut charged, &tx.ops, &ctx, natives) {
        Ok(()) => TxOutcome::Applied,
        Err(e) => TxOutcome::Failed(clip_reason(e.to_string())),
    };
    charged.commit();
    Ok(Receipt {
        tx_hash: vtx.hash(),
        outcome,
        fee: tx.fee,
    })
}
