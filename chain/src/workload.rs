//! Deterministic accounts and transfer workloads: for the crash helper, the benchmark and tests.
//!
//! Keys are derived from a seed (`SHA-256(seed ‖ role ‖ index)` as the secret), so a process
//! that reopens a ledger can rebuild the same genesis and keys. Transfers use the built-in
//! `_transfer` function (`/transfer/<from>/<to>/<nonce>/value`), with the sender's nonce as the
//! request key, so every transfer writes a fresh path.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::account::Address;
use crate::consensus::Consensus;
use crate::genesis::Genesis;
use crate::keys::Keypair;
use crate::ledger::Ledger;
use crate::ops::Op;
use crate::path::Path;
use crate::tx::{SignedTransaction, Transaction};
use crate::value::Value;

/// A deterministic set of funded accounts and a validator key.
pub struct Workload {
    /// The validator's key (receives fees).
    pub validator: Keypair,
    /// The funded accounts.
    pub accounts: Vec<Keypair>,
    /// Genesis funding every account.
    pub genesis: Genesis,
    rng: u64,
}

/// The key for `role` and `index` under `seed`.
pub fn derived_key(seed: u64, role: &str, index: u64) -> Keypair {
    let mut h = Sha256::new();
    h.update(seed.to_be_bytes());
    h.update(role.as_bytes());
    h.update(index.to_be_bytes());
    Keypair::from_secret(h.finalize().into())
}

/// A transfer op of `amount` from `from` to `to`, keyed by `key`.
pub fn transfer_op(from: &Address, to: &Address, key: u64, amount: i128) -> Op {
    let path = Path::from_segments([
        "transfer".to_owned(),
        from.to_string(),
        to.to_string(),
        key.to_string(),
        "value".to_owned(),
    ])
    .expect("invariant: addresses and numbers are valid segments");
    Op::SetValue {
        path,
        value: Value::Int(amount),
    }
}

impl Workload {
    /// `accounts` accounts with `balance` each on chain `chain_id`, keys derived from `seed`.
    pub fn new(chain_id: &str, accounts: usize, balance: i128, seed: u64) -> Workload {
        let validator = derived_key(seed, "validator", 0);
        let accounts: Vec<Keypair> = (0..accounts as u64)
            .map(|i| derived_key(seed, "account", i))
            .collect();
        let genesis = Genesis {
            chain_id: chain_id.to_owned(),
            timestamp: 1_700_000_000_000,
            root_owner: Address::of(&validator.public()),
            balances: accounts
                .iter()
                .map(|k| (Address::of(&k.public()), balance))
                .collect(),
        };
        Workload {
            validator,
            accounts,
            genesis,
            rng: seed | 1,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// `count` signed transfers between random distinct accounts, amounts 1 to 10, each with
    /// `fee`, numbered from each sender's next nonce in `ledger` (pending ones not counted).
    pub fn transfers<C: Consensus>(
        &mut self,
        ledger: &Ledger<C>,
        count: usize,
        fee: u128,
        time: u64,
    ) -> Vec<SignedTransaction> {
        let n = self.accounts.len() as u64;
        let mut nonces: HashMap<usize, u64> = HashMap::new();
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let i = (self.next() % n) as usize;
            let j = ((i as u64 + 1 + self.next() % (n - 1)) % n) as usize;
            let amount = i128::from((self.next() % 10) as u8) + 1;
            let key = &self.accounts[i];
            let from = Address::of(&key.public());
            let to = Address::of(&self.accounts[j].public());
            let nonce = nonces.entry(i).or_insert_with(|| ledger.nonce(&from));
            let op = transfer_op(&from, &to, *nonce, amount);
            let tx = Transaction::new(ledger.chain_id(), &key.public(), *nonce, fee, time, op);
            *nonce += 1;
            out.push(tx.sign(key));
        }
        out
    }

    /// Sum of the balances of all accounts and the validator (constant: fees go to the
    /// validator, transfers stay among the accounts).
    pub fn total_balance<C: Consensus>(&self, ledger: &Ledger<C>) -> i128 {
        self.accounts
            .iter()
            .chain(std::iter::once(&self.validator))
            .map(|k| ledger.balance(&Address::of(&k.public())))
            .sum()
    }
}

/// The workload of the crash test and its helper binary: chain `crash-test`, 16 accounts with
/// 10^12 each.
pub fn crash_test_workload(seed: u64) -> Workload {
    Workload::new("crash-test", 16, 1_000_000_000_000, seed)
}
