//! Native functions: trusted code that runs when a write lands on a path.
//!
//! A function config (`SET_FUNCTION`) attaches a function id to a path pattern. After a
//! successful value write (`SET_VALUE`, `INC_VALUE`, `DEC_VALUE`) at a path the pattern matches
//! *exactly* (same length), the function is called inside the same transaction, with the
//! pattern's bindings and the value now at the path. It reads and writes the state through the
//! [`StateTxn`] without rule checks (it is the ledger's own code); its writes do not trigger
//! further functions. If it returns an error, the whole op (the whole `SET`) is rolled back.
//!
//! [`NativeFunctions`] is the registry interface; [`builtin::Builtins`] holds the ledger's
//! functions (`_transfer`, `_deposit`, `_release`, `_stake`) and the hook for
//! `_verifyTrainingProof`.

pub mod builtin;

use crate::path::{Bindings, Path};
pub use crate::recent::RecentBlocks;
use crate::rules::Auth;
use crate::state::{StateError, StateTxn};
use crate::value::Value;

/// The context an op is applied in.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Context {
    /// Who signed the transaction.
    pub auth: Auth,
    /// Block time, milliseconds since the Unix epoch.
    pub current_time: u64,
    /// Height of the block being built.
    pub block_number: u64,
    /// Hashes of the blocks before it.
    pub recent: RecentBlocks,
}

impl Context {
    /// A context for a plain address (no function id) at the given time and height.
    pub fn new(addr: &str, current_time: u64, block_number: u64) -> Context {
        Context {
            auth: Auth {
                addr: addr.to_owned(),
                fid: None,
            },
            current_time,
            block_number,
            recent: RecentBlocks::default(),
        }
    }
}

/// One function invocation.
#[derive(Debug)]
pub struct FunctionCall<'a> {
    /// The function id from the config.
    pub function_id: &'a str,
    /// The op's context (the writer is `ctx.auth`).
    pub ctx: &'a Context,
    /// The path that was written.
    pub path: &'a Path,
    /// Bindings of the function pattern's wildcards.
    pub vars: &'a Bindings,
    /// The value now at `path` (null after a delete).
    pub value: &'a Value,
}

impl FunctionCall<'_> {
    /// The binding of `$name`; a missing one is a configuration error.
    pub fn var(&self, name: &str) -> Result<&str, FunctionError> {
        self.vars
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| FunctionError::Config(format!("pattern does not bind ${name}")))
    }
}

/// Why a native function refused or failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// The writer is not who the function requires.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The value is not a valid amount or payload.
    #[error("bad input: {0}")]
    BadInput(String),
    /// Not enough funds.
    #[error("insufficient balance at {path}: have {balance}, need {needed}")]
    InsufficientBalance {
        /// The balance's path.
        path: String,
        /// What is there.
        balance: i128,
        /// What was asked.
        needed: i128,
    },
    /// A balance would overflow, or holds something that is not an integer.
    #[error("bad balance at {0}")]
    BadBalance(String),
    /// The function is attached at a pattern that lacks what it needs.
    #[error("misconfigured: {0}")]
    Config(String),
    /// A state write was refused.
    #[error(transparent)]
    State(#[from] StateError),
    /// A proof did not verify (reserved for `_verifyTrainingProof`).
    #[error("proof rejected: {0}")]
    Proof(String),
    /// No function with this id is registered.
    #[error("unknown native function {0:?}")]
    Unknown(String),
}

/// The registry of native functions the ledger can call. `Send`, so that a ledger can move
/// to another thread (shards produce blocks in parallel, [`crate::shard::ShardSet`]).
pub trait NativeFunctions: Send {
    /// Whether `function_id` is registered (checked when a function config is set).
    fn exists(&self, function_id: &str) -> bool;

    /// Runs the function; an error rolls back the op that triggered it.
    fn call(&self, call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError>;
}
