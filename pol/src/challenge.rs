//! The challenge: which logged steps of a round a provider must prove, drawn from a seed that
//! nobody could know when the round's logs were posted.
//!
//! On the ledger the seed is the hash of the block after the one that sealed the round, so it
//! is fixed only after every log of the round is posted, and no provider can grind its log to
//! pick its own steps. The draw is specified here, byte for byte, because validators must agree
//! on it (it does not depend on any random-number library):
//!
//! ```text
//! s        = SHA-256("zkfl-challenge-v2" ‖ seed ‖ u32 len ‖ task ‖ u64 round ‖ u32 len ‖ provider)
//! word(i)  = the first 8 bytes, little-endian, of SHA-256(s ‖ u64 i)
//! audited  ⇔ word(0) mod 1000 < audit                      (audit in per mille)
//! draws    : for i = 1, 2, …: x = word(i); skip x ≥ ⌊2^64/n⌋·n (no modulo bias); t = x mod n;
//!            keep t unless already drawn; stop at q distinct steps (all n when q ≥ n),
//!            or after 64·q draws, then fill with the smallest steps not drawn
//! steps    = the kept steps, ascending (none when not audited or n = 0)
//! ```
//! (integers little-endian; `n` is the number of steps the provider posted for the round).
//!
//! **Detection.** A provider that faked `m` of its `n` steps in a round is caught with
//! probability `a·(1 − C(n−m, q)/C(n, q))` for audit rate `a`: at `a = 1` and `f = m/n` this is
//! about `1 − (1 − f)^q` ([`undetected`]).

use sha2::{Digest as _, Sha256};

/// The challenge parameters a task fixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChallengeRule {
    /// Steps drawn from an audited provider's round.
    pub q: u32,
    /// Chance, per mille, that a provider's round is audited at all (1000: every round).
    pub audit: u32,
}

fn provider_seed(seed: &[u8; 32], task: &str, round: u64, provider: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"zkfl-challenge-v2");
    h.update(seed);
    h.update((task.len() as u32).to_le_bytes());
    h.update(task.as_bytes());
    h.update(round.to_le_bytes());
    h.update((provider.len() as u32).to_le_bytes());
    h.update(provider.as_bytes());
    h.finalize().into()
}

fn word(s: &[u8; 32], i: u64) -> u64 {
    let h: [u8; 32] = Sha256::new()
        .chain_update(s)
        .chain_update(i.to_le_bytes())
        .finalize()
        .into();
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    u64::from_le_bytes(first)
}

impl ChallengeRule {
    /// The steps `provider` must prove of its `steps` logged steps in `round` of `task`, for the
    /// challenge `seed` (see the module docs): empty when the provider is not audited.
    pub fn draw(
        &self,
        seed: &[u8; 32],
        task: &str,
        round: u64,
        provider: &str,
        steps: u64,
    ) -> Vec<u64> {
        let s = provider_seed(seed, task, round, provider);
        if steps == 0 || word(&s, 0) % 1000 >= u64::from(self.audit) {
            return Vec::new();
        }
        let q = u64::from(self.q);
        if q >= steps {
            return (0..steps).collect();
        }
        let limit = u64::MAX - u64::MAX % steps;
        let mut drawn = std::collections::BTreeSet::new();
        for i in 1..=64 * q {
            if drawn.len() as u64 == q {
                break;
            }
            let x = word(&s, i);
            if x < limit {
                drawn.insert(x % steps);
            }
        }
        let mut fill = 0;
        while (drawn.len() as u64) < q {
            drawn.insert(fill);
            fill += 1;
        }
        drawn.into_iter().collect()
    }
}

/// The chance that a provider who faked `faked` of its `steps` steps in a round passes the
/// challenge: `1 − a·(1 − C(steps−faked, q)/C(steps, q))`, for audit rate `a = audit/1000`.
pub fn undetected(rule: &ChallengeRule, steps: u64, faked: u64) -> f64 {
    let q = u64::from(rule.q).min(steps);
    let mut all_honest = 1.0f64;
    for j in 0..q {
        all_honest *= steps.saturating_sub(faked).saturating_sub(j) as f64 / (steps - j) as f64;
    }
    1.0 - f64::from(rule.audit.min(1000)) / 1000.0 * (1.0 - all_honest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [9; 32];
    const ALL: ChallengeRule = ChallengeRule { q: 4, audit: 1000 };

    #[test]
    fn draws_are_deterministic_distinct_sorted_and_in_range() {
        let a = ALL.draw(&SEED, "t", 3, "p", 100);
        assert_eq!(a, ALL.draw(&SEED, "t", 3, "p", 100));
        assert_eq!(a.len(), 4);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a.iter().all(|&s| s < 100));
        assert_eq!(ALL.draw(&SEED, "t", 3, "p", 3), vec![0, 1, 2]);
        assert!(ALL.draw(&SEED, "t", 3, "p", 0).is_empty());
    }

    #[test]
    fn every_input_changes_the_draw() {
        let base = ALL.draw(&SEED, "t", 3, "p", 1_000_000);
        assert_ne!(base, ALL.draw(&[8; 32], "t", 3, "p", 1_000_000));
        assert_ne!(base, ALL.draw(&SEED, "u", 3, "p", 1_000_000));
        assert_ne!(base, ALL.draw(&SEED, "t", 4, "p", 1_000_000));
        assert_ne!(base, ALL.draw(&SEED, "t", 3, "q", 1_000_000));
        // Length prefixes: moving a byte between task and provider changes the seed.
        assert_ne!(
            provider_seed(&SEED, "ab", 1, "c"),
            provider_seed(&SEED, "a", 1, "bc")
        );
    }

    #[test]
    fn audit_rate_is_respected() {
        let rule = ChallengeRule { q: 1, audit: 250 };
        let audited = (0..4000)
            .filter(|p| !rule.draw(&SEED, "t", 1, &p.to_string(), 10).is_empty())
            .count();
        assert!(
            (850..1150).contains(&audited),
            "{audited} of 4000 audited at 25%"
        );
        let none = ChallengeRule { q: 1, audit: 0 };
        assert!((0..100).all(|p| none.draw(&SEED, "t", 1, &p.to_string(), 10).is_empty()));
    }

    #[test]
    fn steps_are_uniform() {
        let rule = ChallengeRule { q: 1, audit: 1000 };
        let mut counts = [0u32; 5];
        for p in 0..5000 {
            counts[rule.draw(&SEED, "t", 1, &p.to_string(), 5)[0] as usize] += 1;
        }
        assert!(counts.iter().all(|c| (850..1150).contains(c)), "{counts:?}");
    }

    #[test]
    fn detection_probability() {
        let one = ChallengeRule { q: 1, audit: 1000 };
        assert!((undetected(&one, 100, 20) - 0.8).abs() < 1e-12);
        assert_eq!(undetected(&one, 100, 0), 1.0);
        assert_eq!(undetected(&ALL, 100, 100), 0.0);
        let half = ChallengeRule { q: 1, audit: 500 };
        assert!((undetected(&half, 100, 100) - 0.5).abs() < 1e-12);
    }
}
