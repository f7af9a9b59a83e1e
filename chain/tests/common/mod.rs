//! Shared test helpers: a genesis state with balances, and op shorthands.
#![allow(dead_code)]

use chain::functions::builtin::genesis_ops;
use chain::{Builtins, Context, Op, Path, StateTree, Value};

/// The root owner used by the genesis helper.
pub const ROOT: &str = "root";

/// A context for `addr` at time 1000, block 7.
pub fn ctx(addr: &str) -> Context {
    Context::new(addr, 1000, 7)
}

/// Parses an op from JSON, panicking on error (test input is trusted).
pub fn op(json: &str) -> Op {
    Op::from_json_text(json).unwrap_or_else(|e| panic!("test op {json}: {e}"))
}

/// A path, panicking on error.
pub fn path(p: &str) -> Path {
    Path::parse(p).unwrap()
}

/// Genesis config plus the given balances.
pub fn genesis(balances: &[(&str, i128)]) -> StateTree {
    let mut state = StateTree::new();
    let natives = Builtins::new();
    for op in genesis_ops(ROOT) {
        state.apply_genesis(&op, &ctx(ROOT), &natives).unwrap();
    }
    for (addr, amount) in balances {
        let op = Op::SetValue {
            path: path(&format!("/accounts/{addr}/balance")),
            value: Value::Int(*amount),
        };
        state.apply_genesis(&op, &ctx(ROOT), &natives).unwrap();
    }
    state
}

/// The balance of `addr` (0 if none).
pub fn balance(state: &StateTree, addr: &str) -> i128 {
    state
        .get_value(&path(&format!("/accounts/{addr}/balance")))
        .as_int()
        .unwrap_or(0)
}

/// A stand-in hash of block `h` (the ledger's real hashes are exercised by the task tests).
pub fn block_hash(h: u64) -> [u8; 32] {
    let mut out = [0xb0; 32];
    out[..8].copy_from_slice(&h.to_le_bytes());
    out
}

/// The fee of every transaction [`apply_signed`] sends.
pub const FEE: u128 = 1;

/// Signs `ops` with `key` at `nonce` (fee [`FEE`]) and applies it in block `height` (recent hashes
/// [`block_hash`] of the blocks before it), committing the state; returns the receipt.
pub fn apply_signed(
    state: &mut StateTree,
    natives: &Builtins,
    key: &chain::Keypair,
    nonce: u64,
    height: u64,
    proposer: chain::Address,
    ops: Op,
) -> chain::execute::Receipt {
    let tx = chain::Transaction::new("test", &key.public(), nonce, FEE, 0, ops)
        .sign(key)
        .verify("test")
        .expect("signed by its key");
    let env = chain::execute::BlockEnv {
        height,
        time: 5,
        proposer,
        recent: chain::RecentBlocks::new(0, (0..height).map(block_hash)),
    };
    let mut txn = state.begin();
    let receipt =
        chain::execute::apply_tx(&mut txn, &tx, &env, natives).expect("nonce and fee are fine");
    txn.commit();
    receipt
}

/// `impl Deref<Target = Parties>` (and `DerefMut`) for a test world with a `parties` field.
#[allow(unused_macros)]
macro_rules! world_of_parties {
    ($world:ty) => {
        impl std::ops::Deref for $world {
            type Target = common::Parties;
            fn deref(&self) -> &common::Parties {
                &self.parties
            }
        }

        impl std::ops::DerefMut for $world {
            fn deref_mut(&mut self) -> &mut common::Parties {
                &mut self.parties
            }
        }
    };
}

/// The owner (key 0), the providers and the proposer of a task test, with the ledger state
/// they write and the height of the block transactions go into.
pub struct Parties {
    /// The state.
    pub state: StateTree,
    /// The native functions.
    pub natives: Builtins,
    /// Every party's key.
    pub keys: Vec<chain::Keypair>,
    /// Every party's next nonce.
    pub nonces: Vec<u64>,
    /// Who collects the fees.
    pub proposer: chain::Address,
    /// The height of the block transactions go into.
    pub height: u64,
}

impl Parties {
    /// `parties` keys from secrets `[1; 32]`, `[2; 32]`, …, each with `balance`, at height 1.
    pub fn new(parties: u8, balance: i128) -> Parties {
        let keys: Vec<chain::Keypair> = (1..=parties)
            .map(|i| chain::Keypair::from_secret([i; 32]))
            .collect();
        let addrs: Vec<String> = keys
            .iter()
            .map(|k| chain::Address::of(&k.public()).to_string())
            .collect();
        let balances: Vec<(&str, i128)> = addrs.iter().map(|a| (a.as_str(), balance)).collect();
        Parties {
            state: genesis(&balances),
            natives: Builtins::new(),
            nonces: vec![0; keys.len()],
            keys,
            proposer: chain::Address::of(&chain::Keypair::from_secret([99; 32]).public()),
            height: 1,
        }
    }

    /// Party `i`'s address.
    pub fn addr(&self, i: usize) -> chain::Address {
        chain::Address::of(&self.keys[i].public())
    }

    /// Party `who` sends `ops` in the current block.
    pub fn send(&mut self, who: usize, ops: Op) -> chain::execute::Receipt {
        let receipt = apply_signed(
            &mut self.state,
            &self.natives,
            &self.keys[who],
            self.nonces[who],
            self.height,
            self.proposer,
            ops,
        );
        self.nonces[who] += 1;
        receipt
    }

    /// [`Parties::send`], which must be applied.
    pub fn ok(&mut self, who: usize, ops: Op) {
        let receipt = self.send(who, ops);
        assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    }
}

pub mod pol;
pub mod zk;
