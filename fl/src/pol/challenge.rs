//! Which logged steps a provider must prove: chosen by a hash of the whole round's log heads, so
//! no provider can pick (or predict before every log is posted) the steps it will be asked for.
//!
//! ```text
//! seed  = SHA-256("zkfl-challenge-v1" || round || n || head_0 || ... || head_{n-1} || client)
//! steps = q distinct steps drawn uniformly from 0..total_steps by ChaCha8 seeded with `seed`
//!         (all of them when q >= total_steps), in increasing order
//! ```
//!
//! Heads are listed in client order; a client that posted no log is left out of the list.

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest as _, Sha256};

use crate::blob::Digest;

/// The steps (each proving checkpoint `t` → `t + 1`) that `client` must prove for `round`, out
/// of its `total_steps` logged steps, given every posted log head of the round in client order.
pub fn challenged_steps(
    round: u32,
    heads: &[Digest],
    client: u32,
    total_steps: u64,
    q: usize,
) -> Vec<u64> {
    let mut h = Sha256::new();
    h.update(b"zkfl-challenge-v1");
    h.update(round.to_le_bytes());
    h.update((heads.len() as u64).to_le_bytes());
    for head in heads {
        h.update(head.0);
    }
    h.update(client.to_le_bytes());
    let seed: [u8; 32] = h.finalize().into();
    let total = usize::try_from(total_steps).unwrap_or(usize::MAX);
    let mut steps: Vec<u64> = if q >= total {
        (0..total_steps).collect()
    } else {
        let mut rng = ChaCha8Rng::from_seed(seed);
        sample(&mut rng, total, q)
            .into_iter()
            .map(|i| i as u64)
            .collect()
    };
    steps.sort_unstable();
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads() -> Vec<Digest> {
        (0..4u8).map(|i| Digest([i; 32])).collect()
    }

    #[test]
    fn deterministic_distinct_and_in_range() {
        let a = challenged_steps(3, &heads(), 1, 100, 5);
        assert_eq!(a, challenged_steps(3, &heads(), 1, 100, 5));
        assert_eq!(a.len(), 5);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert!(a.iter().all(|&s| s < 100));
        assert_eq!(challenged_steps(0, &heads(), 0, 3, 10), vec![0, 1, 2]);
    }

    #[test]
    fn any_head_round_or_client_changes_the_draw() {
        let base = challenged_steps(3, &heads(), 1, 1000, 4);
        let mut other = heads();
        other[2].0[0] ^= 1;
        assert_ne!(base, challenged_steps(3, &other, 1, 1000, 4));
        assert_ne!(base, challenged_steps(4, &heads(), 1, 1000, 4));
        assert_ne!(base, challenged_steps(3, &heads(), 2, 1000, 4));
    }
}
