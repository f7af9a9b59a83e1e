//! Which coalitions a round's contribution proof checks.
//!
//! Always the heaviest ([`fixed`]): `∅`, `P`, every singleton and every `P ∖ {i}` (a coalition
//! of size `s` weighs `s!(N−s−1)!/N!` in each Shapley value: sizes 0 and `N−1` weigh most), and
//! `k` more drawn from the hash of a block made after the round's updates were posted
//! ([`drawn`]), so the owner cannot know in advance which utilities will be recomputed.

use sha2::{Digest, Sha256};

use crate::{Coalition, grand};

/// `∅`, `P`, then `{i}` and `P ∖ {i}` for each player `i`, each coalition once, in that order.
pub fn fixed(n: usize) -> Vec<Coalition> {
    let all = grand(n);
    let mut out = vec![0, all];
    for i in 0..n {
        out.push(1 << i);
    }
    for i in 0..n {
        out.push(all & !(1 << i));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|s| seen.insert(*s));
    out
}

/// `k` coalitions outside [`fixed`] (all of them if fewer remain), drawn by `seed`: the ones
/// whose `SHA-256("zkfl-coalition" ‖ seed ‖ mask)` are smallest, ascending by that hash. For
/// `n <= 20` (every coalition is hashed once).
pub fn drawn(seed: &[u8; 32], n: usize, k: usize) -> Vec<Coalition> {
    let heavy = fixed(n);
    let mut keyed: Vec<([u8; 32], Coalition)> = (0..=grand(n))
        .filter(|s| !heavy.contains(s))
        .map(|s| {
            let mut h = Sha256::new();
            h.update(b"zkfl-coalition");
            h.update(seed);
            h.update(s.to_le_bytes());
            (h.finalize().into(), s)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().take(k).map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heavy_coalitions_each_once() {
        assert_eq!(fixed(1), vec![0, 1]);
        assert_eq!(fixed(2), vec![0, 3, 1, 2]);
        assert_eq!(fixed(3), vec![0, 7, 1, 2, 4, 6, 5, 3]);
        assert_eq!(fixed(10).len(), 22);
    }

    #[test]
    fn draws_are_outside_the_heavy_set_distinct_and_seeded() {
        let a = drawn(&[1; 32], 10, 8);
        assert_eq!(a.len(), 8);
        assert!(a.iter().all(|s| !fixed(10).contains(s) && *s < 1024));
        let mut unique = a.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 8);
        assert_eq!(a, drawn(&[1; 32], 10, 8));
        assert_ne!(a, drawn(&[2; 32], 10, 8));
        // Three players: 8 coalitions, all heavy; four players: 16 − 10 = 6 remain.
        assert!(drawn(&[0; 32], 3, 5).is_empty());
        assert_eq!(drawn(&[0; 32], 4, 50).len(), 6);
    }
}
