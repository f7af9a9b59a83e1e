//! Shared helpers for ledger tests: a fresh ledger file with funded accounts.
#![allow(dead_code)]

use chain::account::Address;
use chain::workload::Workload;
use chain::{Keypair, Ledger, Op, SignedTransaction, SingleValidator, Transaction};

/// Chain id of the test ledgers.
pub const CHAIN: &str = "test-chain";
/// Starting balance of each account.
pub const START: i128 = 1_000;

/// A temporary ledger file with `n` accounts of [`START`] each.
pub struct Fixture {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// Keys and genesis.
    pub workload: Workload,
}

impl Fixture {
    /// A new fixture with `n` accounts.
    pub fn new(n: usize) -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            workload: Workload::new(CHAIN, n, START, 7),
        }
    }

    /// The ledger file.
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("ledger.redb")
    }

    /// Opens (or creates) the ledger as its validator.
    pub fn open(&self) -> Ledger {
        let key = Keypair::from_secret(self.workload.validator.secret());
        Ledger::open(
            &self.path(),
            &self.workload.genesis,
            SingleValidator::new(key),
        )
        .unwrap()
    }

    /// Account `i`'s key.
    pub fn key(&self, i: usize) -> &Keypair {
        &self.workload.accounts[i]
    }

    /// Account `i`'s address.
    pub fn addr(&self, i: usize) -> Address {
        Address::of(&self.key(i).public())
    }

    /// The validator's address (fee sink).
    pub fn validator(&self) -> Address {
        Address::of(&self.workload.validator.public())
    }

    /// A signed transaction from account `i`.
    pub fn tx(&self, i: usize, nonce: u64, fee: u128, op: Op) -> SignedTransaction {
        Transaction::new(CHAIN, &self.key(i).public(), nonce, fee, 5, op).sign(self.key(i))
    }
}

/// Parses an op from JSON (test input).
pub fn op(json: &str) -> Op {
    Op::from_json_text(json).unwrap_or_else(|e| panic!("test op {json}: {e}"))
}

/// Every 32-byte encoding that ZIP215 decodes to a point of small order: the eight points of
/// the 8-torsion, each canonical, with `y + p` where that still fits in 255 bits (y < 19), and
/// with the sign bit set where x = 0 (a "negative zero"). 8 canonical + 6 non-canonical.
/// Found by decoding candidates and comparing with the torsion points, not by the check under
/// test (`PublicKey::is_small_order`).
pub fn small_order_encodings() -> Vec<[u8; 32]> {
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    let mut out = Vec::new();
    for point in EIGHT_TORSION {
        let canonical = point.compress().to_bytes();
        let mut ys = vec![canonical];
        let mut y = canonical;
        y[31] &= 0x7f;
        if y[1..].iter().all(|&b| b == 0) && y[0] < 19 {
            // y + p = 2^255 − (19 − y): all ones below bit 255, less (18 − y) in the low byte.
            let mut plus_p = [0xff; 32];
            plus_p[31] = 0x7f;
            plus_p[0] = 0xff - (18 - y[0]);
            ys.push(plus_p);
        }
        for enc in ys {
            for sign in [0, 0x80] {
                let mut candidate = enc;
                candidate[31] = (candidate[31] & 0x7f) | sign;
                let decoded = CompressedEdwardsY(candidate).decompress();
                if decoded == Some(point) && !out.contains(&candidate) {
                    out.push(candidate);
                }
            }
        }
    }
    out
}
