//! Proof-of-learning log bytes written out from the documented layout (`fl`'s
//! `pol::encoding`, version 2), independently of the ledger's parser.

use sha2::{Digest, Sha256};

/// SHA-256(tag ‖ bytes).
pub fn tagged(tag: &[u8], bytes: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(tag)
        .chain_update(bytes)
        .finalize()
        .into()
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A 64-byte checkpoint commitment: the BN254 part, then a stand-in Pasta part.
pub fn commitment(bn254: [u8; 32]) -> Vec<u8> {
    let mut out = bn254.to_vec();
    out.extend_from_slice(&[0x5a; 32]);
    out
}

/// Header bytes for `client`, `round` with the given initial commitment.
pub fn header(client: u32, round: u32, initial_commitment: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&client.to_le_bytes());
    b.extend_from_slice(&round.to_le_bytes());
    put_bytes(&mut b, b"digits");
    put_bytes(&mut b, b"last");
    b.extend_from_slice(&42u64.to_le_bytes());
    put_bytes(&mut b, b"softmax:2-2");
    b.extend_from_slice(&1u32.to_le_bytes()); // batch size
    b.extend_from_slice(&0f32.to_bits().to_le_bytes()); // momentum
    b.extend_from_slice(&0f32.to_bits().to_le_bytes()); // proximal mu
    b.extend_from_slice(&1u32.to_le_bytes()); // every
    b.extend_from_slice(&[1; 32]); // global
    b.extend_from_slice(&[2; 32]); // initial
    put_bytes(&mut b, initial_commitment);
    b
}

/// Entry bytes: step count `step` after `rows_per_step.len()` steps (lr 0.1, those rows).
pub fn entry(step: u64, rows_per_step: &[&[u32]], commitment: &[u8], prev: [u8; 32]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&step.to_le_bytes());
    b.extend_from_slice(&(rows_per_step.len() as u32).to_le_bytes());
    for rows in rows_per_step {
        b.extend_from_slice(&0.1f32.to_bits().to_le_bytes());
        b.extend_from_slice(&(rows.len() as u32).to_le_bytes());
        for r in *rows {
            b.extend_from_slice(&r.to_le_bytes());
        }
    }
    b.extend_from_slice(&[step as u8; 32]); // checkpoint digest
    put_bytes(&mut b, commitment);
    b.extend_from_slice(&prev);
    b
}

/// A log with one optimizer step per entry.
pub struct Log {
    /// Header bytes.
    pub header: Vec<u8>,
    /// Entry bytes, in order.
    pub entries: Vec<Vec<u8>>,
}

impl Log {
    /// A log whose checkpoint commitments (BN254 parts) are `commitments[0]` (in the header),
    /// `commitments[1]`, … (one entry each).
    pub fn new(client: u32, round: u32, commitments: &[[u8; 32]]) -> Log {
        let header = header(client, round, &commitment(commitments[0]));
        let mut prev = tagged(b"zkfl-pol-header-v2", &header);
        let mut entries = Vec::new();
        for (i, c) in commitments.iter().enumerate().skip(1) {
            let e = entry(i as u64, &[&[i as u32 % 2]], &commitment(*c), prev);
            prev = tagged(b"zkfl-pol-entry-v2", &e);
            entries.push(e);
        }
        Log { header, entries }
    }

    /// The head: the last entry's hash (the header's when there is none).
    pub fn head(&self) -> [u8; 32] {
        match self.entries.last() {
            Some(e) => tagged(b"zkfl-pol-entry-v2", e),
            None => tagged(b"zkfl-pol-header-v2", &self.header),
        }
    }

    /// The evidence for step `t`: the header (t = 0) or entry `t - 1`, then every later entry.
    pub fn suffix(&self, t: usize) -> Vec<u8> {
        let mut out = if t == 0 {
            self.header.clone()
        } else {
            self.entries[t - 1].clone()
        };
        for e in &self.entries[t..] {
            out.extend_from_slice(e);
        }
        out
    }
}
