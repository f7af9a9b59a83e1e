//! The genesis config of a ledger (or shard) and the state it starts from.
//!
//! JSON form (canonical JSON, stored in the ledger file so that replays start from it):
//! ```text
//! {"balances":{"<address>":<amount>,...},"chain_id":"<id>","root_owner":"<address>",
//!  "timestamp":<ms>}
//! ```
//! The genesis state is: the built-in owner, rules and functions
//! ([`crate::functions::builtin::genesis_ops`]) with `root_owner` owning `/`; a `false` rule
//! on `/accounts/$addr/nonce` (only the ledger writes nonces); and each balance at
//! `/accounts/<address>/balance`. Amounts are positive and fit in `i128`.

use std::collections::BTreeMap;

use crate::ApplyError;
use crate::account::Address;
use crate::apply::apply_genesis_in;
use crate::functions::Context;
use crate::functions::NativeFunctions;
use crate::functions::builtin::genesis_ops;
use crate::json::{self, Json};
use crate::ops::Op;
use crate::path::PathPattern;
use crate::rules::Rule;
use crate::state::StateTree;
use crate::store::NodeStore;
use crate::tx::check_chain_id;
use crate::value::Value;

/// Why a genesis config is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The JSON is malformed or has the wrong shape.
    #[error("bad genesis config: {0}")]
    Format(String),
    /// A genesis op failed (a bug or an impossible balance).
    #[error("genesis state could not be built: {0}")]
    Apply(#[from] ApplyError),
}

/// How a chain starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// The chain (or shard) id; transactions must name it.
    pub chain_id: String,
    /// Time of the genesis block, milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Owner of `/` (may change rules, functions and owners).
    pub root_owner: Address,
    /// Initial balances.
    pub balances: BTreeMap<Address, i128>,
}

impl Genesis {
    /// Checks the chain id and the balances.
    pub fn validate(&self) -> Result<(), GenesisError> {
        check_chain_id(&self.chain_id).map_err(|e| GenesisError::Format(e.to_string()))?;
        if let Some((addr, n)) = self.balances.iter().find(|(_, n)| **n <= 0) {
            return Err(GenesisError::Format(format!(
                "balance of {addr} must be positive, got {n}"
            )));
        }
        Ok(())
    }

    /// The canonical JSON text.
    pub fn to_json_text(&self) -> String {
        let balances = self
            .balances
            .iter()
            .map(|(a, n)| (a.to_string(), Json::Int(*n)))
            .collect();
        let timestamp = i128::from(self.timestamp);
        json::to_canonical(&Json::Object(BTreeMap::from([
            ("balances".to_owned(), Json::Object(balances)),
            ("chain_id".to_owned(), Json::Str(self.chain_id.clone())),
            (
                "root_owner".to_owned(),
                Json::Str(self.root_owner.to_string()),
            ),
            ("timestamp".to_owned(), Json::Int(timestamp)),
        ])))
    }

    /// Reads [`Genesis::to_json_text`]'s output.
    pub fn from_json_text(text: &str) -> Result<Genesis, GenesisError> {
        let bad = |m: &str| GenesisError::Format(m.to_owned());
        let Json::Object(fields) =
            json::parse(text).map_err(|e| GenesisError::Format(e.to_string()))?
        else {
            return Err(bad("not an object"));
        };
        let field = |name: &str| {
            fields
                .get(name)
                .ok_or_else(|| bad(&format!("missing {name}")))
        };
        let Json::Str(chain_id) = field("chain_id")? else {
            return Err(bad("chain_id must be a string"));
        };
        let timestamp = match field("timestamp")? {
            Json::Int(n) => u64::try_from(*n).map_err(|_| bad("timestamp out of range"))?,
            _ => return Err(bad("timestamp must be an integer")),
        };
        let root_owner = match field("root_owner")? {
            Json::Str(s) => s
                .parse()
                .map_err(|e: crate::account::AddressError| bad(&e.to_string()))?,
            _ => return Err(bad("root_owner must be a string")),
        };
        let Json::Object(entries) = field("balances")? else {
            return Err(bad("balances must be an object"));
        };
        let mut balances = BTreeMap::new();
        for (addr, amount) in entries {
            let addr: Address = addr
                .parse()
                .map_err(|e: crate::account::AddressError| bad(&e.to_string()))?;
            let Json::Int(n) = amount else {
                return Err(bad("balances must be integers"));
            };
            balances.insert(addr, *n);
        }
        if fields.len() != 4 {
            return Err(bad("unknown field"));
        }
        let genesis = Genesis {
            chain_id: chain_id.clone(),
            timestamp,
            root_owner,
            balances,
        };
        genesis.validate()?;
        Ok(genesis)
    }

    /// The genesis ops, in order.
    pub fn ops(&self) -> Vec<Op> {
        let mut ops = genesis_ops(&self.root_owner.to_string());
        ops.push(Op::SetRule {
            path: PathPattern::parse("/accounts/$addr/nonce")
                .expect("invariant: the nonce pattern is valid"),
            rule: Some(Rule::parse("false").expect("invariant: `false` parses")),
        });
        ops.extend(self.balances.iter().map(|(addr, n)| Op::SetValue {
            path: addr.balance_path(),
            value: Value::Int(*n),
        }));
        ops
    }

    /// Writes the genesis state into `state` (expected empty) in one transaction: on error
    /// nothing is written.
    pub fn build<S: NodeStore>(
        &self,
        state: &mut StateTree<S>,
        natives: &dyn NativeFunctions,
    ) -> Result<(), GenesisError> {
        self.validate()?;
        let ctx = Context::new(&self.root_owner.to_string(), self.timestamp, 0);
        let mut txn = state.begin();
        for op in self.ops() {
            apply_genesis_in(&mut txn, &op, &ctx, natives)?;
        }
        txn.commit();
        Ok(())
    }
}
