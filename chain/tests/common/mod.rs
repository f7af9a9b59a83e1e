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

pub mod pol;
pub mod zk;
