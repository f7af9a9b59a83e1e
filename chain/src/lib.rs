//! # The zkfl ledger: state, rules, owners, ops and native functions
//!
//! **The state** is one tree of JSON-like [`Value`]s at slash-separated paths
//! (`/escrow/task1/balance`). Config lives beside the data, attached to path *patterns* whose
//! `$name` segments match any one segment: rules (who may write), functions (what runs after a
//! write) and owners (who may change config). Data and config together hash to one state root
//! ([`state_root`]), kept current incrementally.
//!
//! **A write** is an [`Op`]: `SET_VALUE`, `INC_VALUE`, `DEC_VALUE` on data; `SET_RULE`,
//! `SET_FUNCTION`, `SET_OWNER` on config; `SET_SHARD`, `REPORT_SHARD` on shards ([`shard`]);
//! or `SET`, a list applied all or nothing. Every op is applied inside a transaction with an
//! undo log: if any check, any write or any triggered function fails, the state and its root
//! are exactly as before, and the error says why. Malformed input (bad JSON, unknown op, bad
//! path, value over 64 KiB, path deeper than 32) is rejected before anything is touched.
//!
//! **A rule decides a data write.** The closest rule up the path decides: the rule whose
//! pattern is the deepest prefix match of the written path, literal segments preferred over
//! wildcards ([`config`]). It is an expression in a small sandboxed language ([`rules`]) over
//! `auth`, `data` (value now), `newData` (value written), the pattern's `$variables`,
//! `getValue(path)`, `currentTime` and `blockNumber`; the write is allowed only if it evaluates
//! to `true`. `false`, a type error, an overflow, a division by zero or an exhausted budget
//! deny. With no rule anywhere up the path the write is denied: **the default is deny**. When a
//! write of an object also creates or replaces nodes that a closer rule governs, that rule must
//! allow its part as well.
//!
//! **Owners decide config writes** ([`owner`]): the closest owner config up the pattern must
//! grant the writer (or `*`) `write_rule`, `write_function`, `write_owner` (to change that very
//! owner config) or `branch_owner` (to add an owner config below). No owner: denied.
//!
//! **Functions fire after writes** ([`functions`]): after a data write succeeds at a path that a
//! function pattern matches exactly, the native function runs inside the same transaction with
//! the pattern's bindings; it may move funds (transfer, escrow, stake) and its failure fails the
//! whole op. Native functions are the ledger's own code: their writes skip rules and do not fire
//! further functions.
//!
//! **Storage** is behind [`store::NodeStore`] (get, put, delete of single nodes); the
//! in-memory [`store::MemStore`] is the default, [`redb_store::RedbNodeStore`] keeps the tree
//! in the ledger file.
//!
//! **Accounts, transactions and blocks.** An account is an Ed25519 key ([`keys`]); its address
//! is the first 20 bytes of SHA-256 of the key ([`account`]). A [`tx::Transaction`] names its
//! chain, sender, nonce, fee and one op, and is signed over its canonical binary encoding's
//! hash. Applying it ([`execute`]) checks the nonce and the fee, then charges the fee, bumps the
//! nonce and applies the op in one state transaction; a failing op is rolled back but the fee
//! and nonce stay. A [`block::Block`] commits to its transactions (Merkle root) and the state
//! root after them, signed by the proposer that [`consensus`] allows. A [`ledger::Ledger`]
//! keeps one chain in one redb file ([`storage`]): one write transaction per block, so a crash
//! leaves a whole block or none; [`ledger::Ledger::verify`] replays it from genesis
//! ([`verify`]).
//!
//! **Shards** ([`shard`]): a subtree of the state can be branched off into its own chain
//! (own file, chain id and validator) with `SET_SHARD`; the parent then refuses every write
//! there except `REPORT_SHARD` from the shard's reporter, which records a child block's hash
//! and state root every reporting period. [`shard::ShardSet`] runs shards in parallel threads
//! and [`shard::audit_shard`] checks a parent's reports against a child's blocks.
//!
//! # Modules
//! [`value`] and [`json`] (the data and its canonical encoding), [`path`] (paths and patterns),
//! [`rules`] (the rule language), [`owner`] (owner permissions), [`config`] (which config
//! governs a path), [`ops`] (the writes and their JSON), [`state`] (the tree and transactions),
//! [`apply`] (checks, writes, function calls), [`functions`] (native functions),
//! [`state_root`] (the Merkle root), [`store`] (node storage); [`keys`], [`account`],
//! [`tx`], [`execute`] (signed transactions), [`block`], [`consensus`], [`genesis`],
//! [`mempool`], [`ledger`], [`verify`] (the chain), [`recent`] (block hashes functions read), [`codec`] (binary encoding),
//! [`storage`] and [`redb_store`] (the ledger file), [`shard`] (child chains and their
//! reports), [`workload`] (deterministic test load),
//! [`bench`] (throughput figures), [`task`] (the task record layout and its rules), [`settlement`] (verifying training
//! proofs and paying providers), [`node`] (the HTTP node serving a ledger).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod account;
pub mod apply;
pub mod bench;
pub mod block;
pub mod codec;
pub mod config;
pub mod consensus;
pub mod execute;
pub mod functions;
pub mod genesis;
pub mod json;
pub mod keys;
pub mod ledger;
pub mod mempool;
pub mod node;
pub mod ops;
pub mod owner;
pub mod path;
pub mod recent;
pub mod redb_store;
pub mod rules;
pub mod settlement;
pub mod shard;
pub mod state;
pub mod state_root;
pub mod storage;
pub mod store;
pub mod task;
pub mod tx;
pub mod value;
pub mod verify;
pub mod workload;

pub use account::Address;
pub use apply::ApplyError;
pub use block::{Block, BlockHeader};
pub use consensus::{Consensus, SingleValidator};
pub use execute::{Receipt, TxOutcome};
pub use functions::builtin::Builtins;
pub use functions::{Context, FunctionCall, FunctionError, NativeFunctions};
pub use genesis::Genesis;
pub use keys::{Keypair, PublicKey, Signature};
pub use ledger::{Ledger, LedgerConfig, LedgerError};
pub use ops::{FunctionConfig, Op, OpError};
pub use owner::{OwnerConfig, OwnerPermissions};
pub use path::{Path, PathError, PathPattern};
pub use recent::RecentBlocks;
pub use rules::Rule;
pub use shard::{ShardConfig, ShardError, ShardReport, ShardSet};
pub use state::{StateTree, StateTxn};
pub use tx::{SignedTransaction, Transaction, VerifiedTx};
pub use value::Value;
pub use verify::{VerifyError, VerifyReport};
