//! How training rows are dealt out to federated clients.
//!
//! Three schemes, as in the usual FL benchmarks, all seeded with ChaCha8 so that one seed always
//! gives one partition:
//!
//! - `iid`: shuffle all rows, deal them evenly (client sizes differ by at most 1).
//! - `dirichlet:ALPHA`: for each class, draw proportions `p ~ Dir(ALPHA)` over the clients and
//!   cut the class's shuffled rows at the cumulative proportions (Flower's
//!   `DirichletPartitioner` without resampling). Small `ALPHA` (0.1) gives each client few
//!   classes, large `ALPHA` (100) approaches IID. A client may receive no rows: it is kept and
//!   reported by [`Partitioning::empty_clients`].
//! - `shards:K`: sort rows by label, cut them into `n_clients * K` contiguous shards of
//!   near-equal size and give each client `K` random shards (the pathological non-IID split of
//!   the FedAvg paper), so each client sees about `K` labels.

use std::fmt;
use std::str::FromStr;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Open01};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How training rows are dealt out to clients; written `iid`, `dirichlet:ALPHA` or
/// `shards:K`, and [`fmt::Display`] and serde use the same string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PartitionScheme {
    /// Even, uniformly random split.
    Iid,
    /// Per-class Dirichlet proportions over clients; `alpha > 0` sets how skewed they are.
    Dirichlet {
        /// Concentration: small is skewed, large is near IID.
        alpha: f64,
    },
    /// Label-sorted shards, `per_client` of them to each client.
    Shards {
        /// Shards given to each client.
        per_client: usize,
    },
}

/// Why rows could not be partitioned, or a scheme string not parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PartitionError {
    /// Zero clients asked for.
    #[error("cannot partition rows over 0 clients")]
    NoClients,
    /// The Dirichlet concentration is not a finite positive number.
    #[error("dirichlet alpha must be a finite number above 0, got {alpha}")]
    BadAlpha {
        /// The value given.
        alpha: f64,
    },
    /// Zero shards per client asked for.
    #[error("shards per client must be at least 1")]
    NoShards,
    /// More shards than rows, so some shard would be empty.
    #[error("{n_clients} clients x {per_client} shards is more shards than the {rows} rows")]
    TooManyShards {
        /// Clients asked for.
        n_clients: usize,
        /// Shards per client asked for.
        per_client: usize,
        /// Rows available.
        rows: usize,
    },
    /// A label is not below the declared number of classes.
    #[error("row {row} has label {label}, but there are {n_classes} classes")]
    LabelOutOfRange {
        /// Index of the row.
        row: usize,
        /// Its label.
        label: u32,
        /// Classes declared.
        n_classes: usize,
    },
    /// The scheme string is not one of the accepted forms.
    #[error(
        "unknown partition scheme {given:?}: expected iid, dirichlet:ALPHA (e.g. dirichlet:0.5) or shards:K (e.g. shards:2)"
    )]
    UnknownScheme {
        /// The string given.
        given: String,
    },
}

impl PartitionScheme {
    /// Checks the scheme's parameter: `alpha` finite and above 0, `per_client` at least 1.
    pub fn validate(&self) -> Result<(), PartitionError> {
        match *self {
            Self::Iid => Ok(()),
            Self::Dirichlet { alpha } if alpha.is_finite() && alpha > 0.0 => Ok(()),
            Self::Dirichlet { alpha } => Err(PartitionError::BadAlpha { alpha }),
            Self::Shards { per_client: 0 } => Err(PartitionError::NoShards),
            Self::Shards { .. } => Ok(()),
        }
    }
}

impl FromStr for PartitionScheme {
    type Err = PartitionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || PartitionError::UnknownScheme {
            given: s.to_string(),
        };
        let scheme = if s == "iid" {
            Self::Iid
        } else if let Some(alpha) = s.strip_prefix("dirichlet:") {
            Self::Dirichlet {
                alpha: alpha.trim().parse().map_err(|_| unknown())?,
            }
        } else if let Some(k) = s.strip_prefix("shards:") {
            Self::Shards {
                per_client: k.trim().parse().map_err(|_| unknown())?,
            }
        } else {
            return Err(unknown());
        };
        scheme.validate()?;
        Ok(scheme)
    }
}

impl fmt::Display for PartitionScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Iid => f.write_str("iid"),
            // f64's Display is the shortest string that parses back to the same value.
            Self::Dirichlet { alpha } => write!(f, "dirichlet:{alpha}"),
            Self::Shards { per_client } => write!(f, "shards:{per_client}"),
        }
    }
}

impl Serialize for PartitionScheme {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartitionScheme {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Rows per client: `clients[c]` holds indices into the training set, in increasing order.
/// Every row is in exactly one client; a client may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partitioning {
    /// Row indices of each client, in client order.
    pub clients: Vec<Vec<usize>>,
}

impl Partitioning {
    /// Indices of the clients that received no rows.
    pub fn empty_clients(&self) -> Vec<usize> {
        self.clients
            .iter()
            .enumerate()
            .filter(|(_, rows)| rows.is_empty())
            .map(|(c, _)| c)
            .collect()
    }

    /// Number of rows of each client.
    pub fn sizes(&self) -> Vec<usize> {
        self.clients.iter().map(Vec::len).collect()
    }

    /// Per client, the number of its rows of each class (`n_classes` entries; labels at or
    /// above `n_classes`, or rows beyond `labels`, are not counted).
    pub fn label_counts(&self, labels: &[u32], n_classes: usize) -> Vec<Vec<usize>> {
        self.clients
            .iter()
            .map(|rows| {
                let mut counts = vec![0; n_classes];
                for &r in rows {
                    if let Some(c) = labels.get(r).and_then(|&l| counts.get_mut(l as usize)) {
                        *c += 1;
                    }
                }
                counts
            })
            .collect()
    }
}

/// Deals the rows `0..labels.len()` out to `n_clients` clients by `scheme`, from `seed`.
/// Labels must be below `n_classes`. The same inputs always give the same partition.
pub fn partition(
    labels: &[u32],
    n_classes: usize,
    n_clients: usize,
    scheme: &PartitionScheme,
    seed: u64,
) -> Result<Partitioning, PartitionError> {
    if n_clients == 0 {
        return Err(PartitionError::NoClients);
    }
    scheme.validate()?;
    if let Some((row, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| **l as usize >= n_classes)
    {
        return Err(PartitionError::LabelOutOfRange {
            row,
            label,
            n_classes,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut clients = match *scheme {
        PartitionScheme::Iid => iid(labels.len(), n_clients, &mut rng),
        PartitionScheme::Dirichlet { alpha } => {
            dirichlet(labels, n_classes, n_clients, alpha, &mut rng)?
        }
        PartitionScheme::Shards { per_client } => shards(labels, n_clients, per_client, &mut rng)?,
    };
    for rows in &mut clients {
        rows.sort_unstable();
    }
    Ok(Partitioning { clients })
}

/// Start of piece `i` when `n` items are cut into `parts` near-equal pieces.
fn cut(i: usize, n: usize, parts: usize) -> usize {
    // i <= parts and both fit in usize, so the product fits in u128 and the result in usize.
    (i as u128 * n as u128 / parts as u128) as usize
}

fn iid(n: usize, n_clients: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(rng);
    (0..n_clients)
        .map(|c| rows[cut(c, n, n_clients)..cut(c + 1, n, n_clients)].to_vec())
        .collect()
}

fn dirichlet(
    labels: &[u32],
    n_classes: usize,
    n_clients: usize,
    alpha: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Vec<usize>>, PartitionError> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let mut clients = vec![Vec::new(); n_clients];
    for rows in &mut by_class {
        rows.shuffle(rng);
        let p = dirichlet_sample(alpha, n_clients, rng)?;
        let n = rows.len();
        let mut start = 0;
        let mut cumulative = 0.0;
        for (c, (client, share)) in clients.iter_mut().zip(&p).enumerate() {
            cumulative += share;
            let end = if c + 1 == n_clients {
                n
            } else {
                ((cumulative * n as f64) as usize).clamp(start, n)
            };
            client.extend_from_slice(&rows[start..end]);
            start = end;
        }
    }
    Ok(clients)
}

/// One draw of `Dir(alpha, ..., alpha)` over `k` parts. Gamma draws are taken in log space
/// (`Gamma(a) = Gamma(a + 1) * U^(1/a)` for `a < 1`) so that tiny alphas do not underflow to an
/// all-zero vector.
fn dirichlet_sample(
    alpha: f64,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<f64>, PartitionError> {
    let bad = |_| PartitionError::BadAlpha { alpha };
    let (gamma, boost) = if alpha >= 1.0 {
        (Gamma::new(alpha, 1.0).map_err(bad)?, false)
    } else {
        (Gamma::new(alpha + 1.0, 1.0).map_err(bad)?, true)
    };
    let logs: Vec<f64> = (0..k)
        .map(|_| {
            let g: f64 = gamma.sample(rng);
            if boost {
                let u: f64 = Open01.sample(rng);
                g.ln() + u.ln() / alpha
            } else {
                g.ln()
            }
        })
        .collect();
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        // Every draw underflowed: the limit of Dir(alpha) as alpha -> 0 is one random corner.
        let mut p = vec![0.0; k];
        p[rng.gen_range(0..k)] = 1.0;
        return Ok(p);
    }
    let weights: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    Ok(weights.iter().map(|w| w / total).collect())
}

fn shards(
    labels: &[u32],
    n_clients: usize,
    per_client: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Vec<usize>>, PartitionError> {
    let n = labels.len();
    let too_many = PartitionError::TooManyShards {
        n_clients,
        per_client,
        rows: n,
    };
    let n_shards = n_clients.checked_mul(per_client).ok_or(too_many.clone())?;
    if n_shards > n {
        return Err(too_many);
    }
    // Shuffle first so that which rows of a class share a shard depends on the seed.
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(rng);
    rows.sort_by_key(|&i| labels[i]);
    let mut shard_ids: Vec<usize> = (0..n_shards).collect();
    shard_ids.shuffle(rng);
    Ok(shard_ids
        .chunks(per_client)
        .map(|mine| {
            mine.iter()
                .flat_map(|&s| &rows[cut(s, n, n_shards)..cut(s + 1, n, n_shards)])
                .copied()
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Labels shaped like the digits data set: 1797 rows, classes 0..9 interleaved.
    fn digit_like_labels() -> Vec<u32> {
        (0..1797u32).map(|i| (i * 7 + i / 13) % 10).collect()
    }

    /// Checks that every row is in exactly one client and rows are sorted within clients.
    fn assert_exact_cover(p: &Partitioning, n_rows: usize, n_clients: usize) {
        assert_eq!(p.clients.len(), n_clients);
        let mut seen = vec![0u32; n_rows];
        for rows in &p.clients {
            assert!(rows.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
            for &r in rows {
                seen[r] += 1;
            }
        }
        assert!(seen.iter().all(|&s| s == 1), "every row exactly once");
    }

    /// Mean over non-empty clients of the entropy (nats) of their label distribution.
    fn mean_label_entropy(p: &Partitioning, labels: &[u32], n_classes: usize) -> f64 {
        let entropies: Vec<f64> = p
            .label_counts(labels, n_classes)
            .iter()
            .filter(|c| c.iter().sum::<usize>() > 0)
            .map(|counts| {
                let n = counts.iter().sum::<usize>() as f64;
                counts
                    .iter()
                    .filter(|&&c| c > 0)
                    .map(|&c| -(c as f64 / n) * (c as f64 / n).ln())
                    .sum()
            })
            .collect();
        entropies.iter().sum::<f64>() / entropies.len() as f64
    }

    fn scheme_strategy() -> impl Strategy<Value = PartitionScheme> {
        prop_oneof![
            Just(PartitionScheme::Iid),
            (1e-3f64..1e3).prop_map(|alpha| PartitionScheme::Dirichlet { alpha }),
            (1usize..4).prop_map(|per_client| PartitionScheme::Shards { per_client }),
        ]
    }

    proptest! {
        #[test]
        fn every_row_goes_to_exactly_one_client(
            labels in proptest::collection::vec(0u32..5, 0..300),
            n_clients in 1usize..12,
            scheme in scheme_strategy(),
            seed in any::<u64>(),
        ) {
            let result = partition(&labels, 5, n_clients, &scheme, seed);
            match (scheme, result) {
                (PartitionScheme::Shards { per_client }, Err(e)) => {
                    prop_assert!(n_clients * per_client > labels.len(), "{e}");
                }
                (_, Err(e)) => prop_assert!(false, "unexpected error {e}"),
                (_, Ok(p)) => {
                    assert_exact_cover(&p, labels.len(), n_clients);
                    let again = partition(&labels, 5, n_clients, &scheme, seed);
                    prop_assert_eq!(Ok(p), again);
                }
            }
        }

        #[test]
        fn scheme_strings_round_trip(scheme in scheme_strategy()) {
            let text = scheme.to_string();
            prop_assert_eq!(text.parse::<PartitionScheme>(), Ok(scheme));
            let json = serde_json::to_string(&scheme).expect("serialize");
            prop_assert_eq!(json.clone(), format!("\"{text}\""));
            prop_assert_eq!(serde_json::from_str::<PartitionScheme>(&json).expect("de"), scheme);
        }
    }

    #[test]
    fn schemes_parse_and_refuse_bad_strings() {
        assert_eq!("iid".parse(), Ok(PartitionScheme::Iid));
        assert_eq!(
            "dirichlet:0.5".parse(),
            Ok(PartitionScheme::Dirichlet { alpha: 0.5 })
        );
        assert_eq!(
            "shards:2".parse(),
            Ok(PartitionScheme::Shards { per_client: 2 })
        );
        assert_eq!(
            PartitionScheme::Dirichlet { alpha: 100.0 }.to_string(),
            "dirichlet:100"
        );
        for bad in [
            "",
            "IID",
            "dirichlet",
            "dirichlet:",
            "dirichlet:x",
            "shards:-1",
            "shards:1.5",
            "pathological",
        ] {
            let err = bad.parse::<PartitionScheme>().expect_err(bad);
            assert!(
                matches!(err, PartitionError::UnknownScheme { .. }),
                "{bad}: {err}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains("iid") && msg.contains("dirichlet:ALPHA") && msg.contains("shards:K"),
                "{msg}"
            );
        }
        for bad in [
            "dirichlet:0",
            "dirichlet:-1",
            "dirichlet:NaN",
            "dirichlet:inf",
        ] {
            assert!(
                matches!(
                    bad.parse::<PartitionScheme>(),
                    Err(PartitionError::BadAlpha { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            "shards:0".parse::<PartitionScheme>(),
            Err(PartitionError::NoShards)
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        let labels = [0, 1, 0, 1];
        let iid = PartitionScheme::Iid;
        assert_eq!(
            partition(&labels, 2, 0, &iid, 0),
            Err(PartitionError::NoClients)
        );
        let zero = PartitionScheme::Dirichlet { alpha: 0.0 };
        assert_eq!(
            partition(&labels, 2, 2, &zero, 0),
            Err(PartitionError::BadAlpha { alpha: 0.0 })
        );
        let none = PartitionScheme::Shards { per_client: 0 };
        assert_eq!(
            partition(&labels, 2, 2, &none, 0),
            Err(PartitionError::NoShards)
        );
        let many = PartitionScheme::Shards { per_client: 3 };
        assert!(matches!(
            partition(&labels, 2, 2, &many, 0),
            Err(PartitionError::TooManyShards { rows: 4, .. })
        ));
        let huge = PartitionScheme::Shards {
            per_client: usize::MAX,
        };
        assert!(matches!(
            partition(&labels, 2, 2, &huge, 0),
            Err(PartitionError::TooManyShards { .. })
        ));
        assert_eq!(
            partition(&[0, 2], 2, 2, &iid, 0),
            Err(PartitionError::LabelOutOfRange {
                row: 1,
                label: 2,
                n_classes: 2
            })
        );
    }

    #[test]
    fn iid_is_even_and_seed_dependent() {
        let labels = digit_like_labels();
        let p = partition(&labels, 10, 7, &PartitionScheme::Iid, 1).expect("iid");
        let sizes = p.sizes();
        assert_eq!(sizes.iter().sum::<usize>(), 1797);
        assert!(
            sizes.iter().max().expect("7 clients") - sizes.iter().min().expect("7 clients") <= 1
        );
        assert!(p.empty_clients().is_empty());
        let q = partition(&labels, 10, 7, &PartitionScheme::Iid, 2).expect("iid");
        assert_ne!(p, q);
    }

    #[test]
    fn dirichlet_seed_and_alpha_matter() {
        let labels = digit_like_labels();
        let run = |alpha: f64, seed: u64| {
            partition(&labels, 10, 10, &PartitionScheme::Dirichlet { alpha }, seed)
                .expect("dirichlet")
        };
        assert_eq!(run(0.5, 3), run(0.5, 3));
        assert_ne!(run(0.5, 3), run(0.5, 4));
        let skewed = mean_label_entropy(&run(0.1, 9), &labels, 10);
        let even = mean_label_entropy(&run(100.0, 9), &labels, 10);
        assert!(
            even > 2.2,
            "alpha 100 is near uniform over 10 labels: {even}"
        );
        assert!(
            skewed < 0.6 * even,
            "alpha 0.1 {skewed} vs alpha 100 {even}"
        );
        let big = run(100.0, 9).sizes();
        assert!(big.iter().all(|&s| (120..=240).contains(&s)), "{big:?}");
    }

    #[test]
    fn dirichlet_reports_empty_clients_instead_of_dropping_them() {
        let labels: Vec<u32> = (0..100).map(|i| i % 2).collect();
        let scheme = PartitionScheme::Dirichlet { alpha: 0.01 };
        let p = partition(&labels, 2, 50, &scheme, 5).expect("dirichlet");
        assert_eq!(p.clients.len(), 50);
        let empty = p.empty_clients();
        assert!(empty.len() >= 40, "{empty:?}");
        assert!(empty.iter().all(|&c| p.clients[c].is_empty()));
        assert_eq!(p.sizes().iter().filter(|&&s| s == 0).count(), empty.len());
        assert_exact_cover(&p, 100, 50);
        // Tiny alphas underflow ordinary gamma draws; the partition must still be valid.
        let tiny = PartitionScheme::Dirichlet { alpha: 1e-6 };
        assert_exact_cover(&partition(&labels, 2, 5, &tiny, 1).expect("tiny"), 100, 5);
    }

    #[test]
    fn two_shards_give_each_client_about_two_labels() {
        let labels = digit_like_labels();
        let scheme = PartitionScheme::Shards { per_client: 2 };
        for n_clients in [10, 50, 100] {
            let p = partition(&labels, 10, n_clients, &scheme, 11).expect("shards");
            assert_exact_cover(&p, 1797, n_clients);
            let distinct: Vec<usize> = p
                .label_counts(&labels, 10)
                .iter()
                .map(|c| c.iter().filter(|&&k| k > 0).count())
                .collect();
            assert!(
                distinct.iter().all(|&d| (1..=4).contains(&d)),
                "{distinct:?}"
            );
            let mean = distinct.iter().sum::<usize>() as f64 / n_clients as f64;
            assert!(mean <= 3.0, "{n_clients} clients: mean {mean} labels");
            // Most of each client's rows are of its two main labels (shards straddle class
            // boundaries, so not all).
            let top_two: f64 = p
                .label_counts(&labels, 10)
                .iter()
                .map(|counts| {
                    let mut sorted = counts.clone();
                    sorted.sort_unstable_by(|a, b| b.cmp(a));
                    (sorted[0] + sorted[1]) as f64 / counts.iter().sum::<usize>() as f64
                })
                .sum::<f64>()
                / n_clients as f64;
            assert!(
                top_two >= 0.9,
                "{n_clients} clients: top-two share {top_two}"
            );
            let sizes = p.sizes();
            let (lo, hi) = (
                sizes.iter().min().expect("clients"),
                sizes.iter().max().expect("clients"),
            );
            assert!(hi - lo <= 2, "near-equal shards: {sizes:?}");
        }
        let a = partition(&labels, 10, 10, &scheme, 1).expect("shards");
        assert_ne!(a, partition(&labels, 10, 10, &scheme, 2).expect("shards"));
    }
}
