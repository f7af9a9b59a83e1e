//! Attacks simulated for tests and demos: poisoned models, free riders and poisoned labels.
//!
//! Each round the first `K` clients selected (by ascending client id) attack:
//! - `scale:S@K` replaces the update `w_i` with `global + S·(w_i − global)`. `S = −10` turns an
//!   honest step into a large step the other way, the classic attack that drags FedAvg away and
//!   that median, trimmed mean and Krum resist.
//! - `freeride@K` trains nothing and sends the global model back unchanged: it hopes to be paid
//!   for the rows it claims.
//! - `flip@K` trains on its rows with every label `y` of `C` classes replaced by `C − 1 − y`.

use crate::data::Dataset;
use crate::strategy::ClientUpdate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The accepted `--attack` forms, for error messages and help.
pub const ATTACK_FORM: &str =
    "scale:S@K (S a finite number), freeride@K or flip@K (K >= 1 attackers), e.g. scale:-10@2";

/// Why an attack spec could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttackError {
    /// Not one of the forms.
    #[error("unknown attack {0:?}; expected {ATTACK_FORM}")]
    Malformed(String),
    /// `S` is not a finite number.
    #[error("bad scale in attack {0:?}; expected {ATTACK_FORM}")]
    BadScale(String),
    /// `K` is not a whole number >= 1.
    #[error("bad attacker count in attack {0:?}; expected {ATTACK_FORM}")]
    BadAttackers(String),
}

/// What the attackers do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttackKind {
    /// Send `global + S·(update − global)`.
    Scale(f32),
    /// Send the global model unchanged.
    FreeRide,
    /// Train with every label `y` replaced by `C − 1 − y`.
    FlipLabels,
}

/// An attack (see the module docs). `FromStr`/`Display`: `scale:S@K`, `freeride@K`, `flip@K`;
/// serde as that string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackSpec {
    /// What the attackers do.
    pub kind: AttackKind,
    /// Number `K` of attacking clients per round.
    pub attackers: usize,
}

impl AttackSpec {
    /// The attackers among a round's selected `clients`: the `K` lowest ids, ascending.
    pub fn attackers_of(&self, clients: &[usize]) -> Vec<usize> {
        let mut ids = clients.to_vec();
        ids.sort_unstable();
        ids.truncate(self.attackers);
        ids
    }

    /// Rewrite the attackers' updates in place; returns the attackers' ids (ascending). Fewer
    /// than `K` attack when the round has fewer updates. See [`AttackSpec::rewrite`].
    pub fn apply(&self, global: &[f32], updates: &mut [ClientUpdate]) -> Vec<usize> {
        let ids: Vec<usize> = updates.iter().map(|u| u.client).collect();
        let attackers = self.attackers_of(&ids);
        for update in updates.iter_mut().filter(|u| attackers.contains(&u.client)) {
            self.rewrite(global, &mut update.params);
        }
        attackers
    }

    /// What an attacker sends instead of its trained `params`, in place. A scaled model is
    /// computed in f64 and may overflow to infinity for huge `S`; strategies reject such
    /// updates. Label flipping rewrites nothing here: it happened in training
    /// ([`AttackSpec::training_data`]).
    pub fn rewrite(&self, global: &[f32], params: &mut [f32]) {
        match self.kind {
            AttackKind::Scale(scale) => {
                let scale = f64::from(scale);
                for (w, &g) in params.iter_mut().zip(global) {
                    let g = f64::from(g);
                    *w = (g + scale * (f64::from(*w) - g)) as f32;
                }
            }
            AttackKind::FreeRide => params.copy_from_slice(&global[..params.len()]),
            AttackKind::FlipLabels => {}
        }
    }

    /// The data an attacker trains on, when the attack poisons labels: `data` with every label
    /// `y` replaced by `C − 1 − y` (same rows, same order).
    pub fn training_data(&self, data: &Dataset) -> Option<Dataset> {
        if self.kind != AttackKind::FlipLabels {
            return None;
        }
        let mut flipped = data.clone();
        let top = data.n_classes as u32 - 1;
        for y in &mut flipped.labels {
            *y = top - *y;
        }
        Some(flipped)
    }
}

impl fmt::Display for AttackSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            AttackKind::Scale(s) => write!(f, "scale:{s}@{}", self.attackers),
            AttackKind::FreeRide => write!(f, "freeride@{}", self.attackers),
            AttackKind::FlipLabels => write!(f, "flip@{}", self.attackers),
        }
    }
}

impl FromStr for AttackSpec {
    type Err = AttackError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (kind, attackers) = text
            .split_once('@')
            .ok_or_else(|| AttackError::Malformed(text.to_string()))?;
        let kind = match kind.trim() {
            "freeride" => AttackKind::FreeRide,
            "flip" => AttackKind::FlipLabels,
            other => {
                let scale = other
                    .strip_prefix("scale:")
                    .ok_or_else(|| AttackError::Malformed(text.to_string()))?;
                AttackKind::Scale(
                    scale
                        .trim()
                        .parse()
                        .ok()
                        .filter(|s: &f32| s.is_finite())
                        .ok_or_else(|| AttackError::BadScale(text.to_string()))?,
                )
            }
        };
        let attackers: usize = attackers
            .trim()
            .parse()
            .ok()
            .filter(|&k| k >= 1)
            .ok_or_else(|| AttackError::BadAttackers(text.to_string()))?;
        Ok(Self { kind, attackers })
    }
}

impl Serialize for AttackSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AttackSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn update(client: usize, params: &[f32]) -> ClientUpdate {
        ClientUpdate {
            client,
            params: params.to_vec(),
            n_samples: 10,
        }
    }

    #[test]
    fn attack_scales_the_lowest_ids() {
        let global = [1.0, -2.0];
        // stored out of id order: the attackers must be ids 2 and 5, not the first two slots
        let mut updates = vec![
            update(9, &[2.0, -1.0]),
            update(5, &[1.5, -2.5]),
            update(2, &[0.0, 0.0]),
            update(7, &[3.0, 3.0]),
        ];
        let spec: AttackSpec = "scale:-10@2".parse().unwrap();
        assert_eq!(spec.apply(&global, &mut updates), vec![2, 5]);
        // id 2: 1 + -10·(0 − 1) = 11; -2 + -10·(0 + 2) = -22
        assert_eq!(updates[2].params, vec![11.0, -22.0]);
        // id 5: 1 + -10·0.5 = -4; -2 + -10·(-0.5) = 3
        assert_eq!(updates[1].params, vec![-4.0, 3.0]);
        assert_eq!(updates[0].params, vec![2.0, -1.0]);
        assert_eq!(updates[3].params, vec![3.0, 3.0]);
    }

    #[test]
    fn attack_with_more_attackers_than_clients_takes_all() {
        let mut updates = vec![update(1, &[2.0]), update(0, &[4.0])];
        let spec = AttackSpec {
            kind: AttackKind::Scale(2.0),
            attackers: 5,
        };
        assert_eq!(spec.apply(&[0.0], &mut updates), vec![0, 1]);
        assert_eq!(updates[0].params, vec![4.0]);
        assert_eq!(updates[1].params, vec![8.0]);
    }

    #[test]
    fn free_riders_send_the_global_model_and_flippers_train_on_flipped_labels() {
        let mut updates = vec![update(3, &[2.0]), update(1, &[4.0])];
        let spec: AttackSpec = "freeride@1".parse().unwrap();
        assert_eq!(spec.apply(&[0.5], &mut updates), vec![1]);
        assert_eq!(updates[1].params, vec![0.5]);
        assert_eq!(updates[0].params, vec![2.0]);
        let data = Dataset::new("t", vec![0.0; 3], 1, vec![0, 1, 2], 3, None).unwrap();
        let flip: AttackSpec = "flip@1".parse().unwrap();
        assert_eq!(flip.training_data(&data).unwrap().labels, vec![2, 1, 0]);
        assert!(spec.training_data(&data).is_none());
        let before = updates.clone();
        assert_eq!(flip.apply(&[0.0], &mut updates), vec![1]);
        assert_eq!(updates, before);
    }

    #[test]
    fn bad_attack_specs_are_rejected_with_the_form() {
        for (text, want) in [
            ("scale:x@2", AttackError::BadScale("scale:x@2".into())),
            ("scale:inf@2", AttackError::BadScale("scale:inf@2".into())),
            ("boost:3@1", AttackError::Malformed("boost:3@1".into())),
            ("scale:3", AttackError::Malformed("scale:3".into())),
            ("freeride", AttackError::Malformed("freeride".into())),
            ("flip@0", AttackError::BadAttackers("flip@0".into())),
            ("scale:3@0", AttackError::BadAttackers("scale:3@0".into())),
            ("scale:3@-1", AttackError::BadAttackers("scale:3@-1".into())),
        ] {
            let err = text.parse::<AttackSpec>().unwrap_err();
            assert_eq!(err, want);
            assert!(err.to_string().contains("scale:S@K"), "{err}");
        }
    }

    #[test]
    fn attack_serde_is_the_string() {
        let spec = AttackSpec {
            kind: AttackKind::Scale(-10.0),
            attackers: 2,
        };
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, "\"scale:-10@2\"");
        assert_eq!(serde_json::from_str::<AttackSpec>(&json).unwrap(), spec);
        assert!(serde_json::from_str::<AttackSpec>("\"scale:1@0\"").is_err());
    }

    proptest! {
        #[test]
        fn attack_spec_round_trips(scale in -1e6_f32..1e6, attackers in 1_usize..1000) {
            for kind in [AttackKind::Scale(scale), AttackKind::FreeRide, AttackKind::FlipLabels] {
                let spec = AttackSpec { kind, attackers };
                let back: AttackSpec = spec.to_string().parse().unwrap();
                prop_assert_eq!(back, spec);
            }
        }
    }
}
