//! The contribution of each provider to a round, proven: the Shapley values over a committed
//! table of coalition utilities, the utilities of the checked coalitions recomputed from the
//! committed updates and validation rows, and the round's aggregate.
//!
//! **The game** (`contribution::pool`). Round `t` has `N` players: provider `i` sent parameters
//! `w_i` trained on `n_i` rows, starting from the global model `w_t`. For a coalition `S` (a
//! bitmask) the FedAvg model is `w_S = Σ_{i∈S} n_i w_i / n_S` (`w_∅ = w_t`), and its utility
//! `v(S)` is the number of the owner's validation rows `(x_r, y_r)` it classifies correctly.
//! A linear model's logits are linear in its parameters, so `w_S`'s scores on a row are
//! `s_S[r] = Σ_{i∈S} n_i z_i[r]` up to the positive factor `1/n_S`, with
//! `z_i[r][j] = Σ_d x_rd W_i[d,j] + b_ij·2^FX` (a logistic regression's classes score `(0, z)`):
//! no division. The predicted class is the lowest index among the maxima of `s_S[r]`.
//! A player with `n_i = 0` is absent (it sent nothing that can be valued): a coalition whose
//! members all weigh 0 scores with the global model's logits `z_t`, like `∅`, so an absent
//! player is a null player (`contribution::pool`). `φ_i` is the Shapley value of `v`; `N!·φ_i`
//! is an integer.
//!
//! **Public inputs** (in order; `N` players, `k` drawn coalitions):
//! 1. `C_t = commit_params(w_t)`;
//! 2. `C_1 … C_N = commit_params(w_i)` (each the last checkpoint of provider `i`'s posted log);
//! 3. `C_{t+1} = commit_params(w_{t+1})`, the round's posted aggregate;
//! 4. `n_1 … n_N`, each `0 <= n_i < 2^SAMPLE_BITS` (0: absent), at least one not 0;
//! 5. `R`, the root of the validation set's [`crate::gadgets::commit::DataTree`];
//! 6. `H = commit_params(v)`, the table of all `2^N` utilities indexed by coalition bitmask;
//! 7. `N!·φ_1 … N!·φ_N` (signed);
//! 8. the `k` drawn coalitions `D_1 … D_k` (`contribution::draw::drawn`), as integers.
//!
//! **Statement.** There are parameters, `V` validation rows and a table `v` opening the
//! commitments, with parameters and features in range and `0 <= v[S] <= V`, such that
//! - **Shapley:** `N!·φ_i = Σ_{S ∌ i} |S|!(N−|S|−1)!·(v[S ∪ {i}] − v[S])` for every `i`;
//! - **utilities:** `v[S]` is the count of correctly classified rows for every checked `S`:
//!   the fixed heavy coalitions (`∅`, `P`, each `{i}`, each `P ∖ {i}`:
//!   `contribution::draw::fixed`) and the drawn ones, scored `s_S = Σ_{i∈S} n_i z_i +
//!   [n_S = 0]·z_t`. The argmax is a one-hot `e` with `s* = Σ_j e_j s_j` and
//!   `s* − s_j − [j < j*] ∈ [0, 2^score_bits)` for every class `j`;
//! - **aggregation:** `w_{t+1} = round(Σ_i n_i w_i / Σ_i n_i)` in every coordinate (half up,
//!   [`crate::fixed::round_div`]): the posted next global model is the FedAvg of the committed
//!   updates.
//!
//! An unchecked table entry is bound only by `H` and the Shapley equations: an owner who wants
//! to move a provider's value must change entries, and each changed entry is checked with
//! probability about `k / (2^N − |fixed|)` (see `contribution::draw`) — **only if `H` is fixed
//! before the seed of the draw exists** and the verifier recomputes the drawn coalitions from
//! that seed itself: the circuit checks that each `D_j` is a coalition (`< 2^N`), not that it is
//! the draw, outside the heavy set or distinct. (The ledger's verifier is to take `H` with the
//! round's seal and draw from a later block.)
//!
//! **Sections** for [`crate::Program::cost`]: `commit`, `validation`, `logits`, `utilities`,
//! `table`, `shapley`, `aggregate`.

use contribution::Coalition;
use contribution::draw::fixed;
use contribution::exact::{shapley_numerators, weight};
use thiserror::Error;

use crate::field::{Coeff, Field};
use crate::fixed::{FX, W_BITS, X_BITS, round_div};
use crate::gadgets::arith::{self, boolean, signed_range};
use crate::gadgets::commit::{self, CommitError, DataTree, commit_params_var, row_leaf_var};
use crate::poseidon::hash2_var;
use crate::program::{Assignment, Builder, Program, Var};
use crate::reference::Model;
use crate::reference::contribution::{WeightedModel, round_game};

/// Bits of a provider's sample count `n_i` (fewer than about a million rows each).
pub const SAMPLE_BITS: u32 = 20;

/// The most players a contribution proof takes (the table has `2^N` entries).
pub const MAX_PROVEN_PLAYERS: usize = 12;

/// What a contribution proving key is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ContributionShape {
    /// The (linear) model.
    pub model: Model,
    /// Players `N`.
    pub players: usize,
    /// Validation rows `V`.
    pub rows: usize,
    /// Depth of the validation set's Merkle tree (`V <= 2^depth`).
    pub depth: u32,
    /// Drawn coalitions `k`.
    pub drawn: usize,
}

/// The owner's secret and its claims: every model, the validation rows, the utility table, the
/// values and the drawn coalitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionWitness {
    /// `w_t` at `2^FW`.
    pub global: Vec<i64>,
    /// `w_i` of each player.
    pub updates: Vec<Vec<i64>>,
    /// `n_i` of each player.
    pub samples: Vec<u64>,
    /// The posted aggregate `w_{t+1}`.
    pub aggregate: Vec<i64>,
    /// Validation features at `2^FX`.
    pub rows: Vec<Vec<i64>>,
    /// Validation labels.
    pub labels: Vec<u32>,
    /// `v[S]` for every coalition bitmask `S`.
    pub table: Vec<i64>,
    /// `N!·φ_i`.
    pub numerators: Vec<i128>,
    /// The drawn coalitions.
    pub drawn: Vec<Coalition>,
}

/// Why a contribution relation cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContributionProofError {
    /// The shape is unusable, or the witness does not have its dimensions.
    #[error("contribution shape: {0}")]
    Shape(String),
    /// A commitment cannot be formed.
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// The game cannot be formed.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// The values cannot be computed.
    #[error(transparent)]
    Contribution(#[from] contribution::ContributionError),
}

impl ContributionShape {
    /// Checks that the shape can be built.
    pub fn validate(&self) -> Result<(), ContributionProofError> {
        let bad = |why: String| Err(ContributionProofError::Shape(why));
        if !matches!(self.model, Model::Softmax { .. } | Model::LogReg { .. })
            || !self.model.is_valid()
        {
            return bad(format!(
                "contributions are proven for linear models, not {:?}",
                self.model
            ));
        }
        if self.players == 0 || self.players > MAX_PROVEN_PLAYERS {
            return bad(format!(
                "{} players (1 to {MAX_PROVEN_PLAYERS})",
                self.players
            ));
        }
        if self.rows == 0
            || self.depth > 24
            || self.rows as u64 > 1u64 << self.depth
            || self.rows >= 1 << 24
        {
            return bad(format!(
                "{} validation rows in a tree of depth {}",
                self.rows, self.depth
            ));
        }
        let heavy = fixed(self.players).len();
        if self.drawn > (1usize << self.players) - heavy {
            return bad(format!(
                "{} drawn coalitions, {} outside the heavy ones",
                self.drawn,
                (1usize << self.players) - heavy
            ));
        }
        Ok(())
    }

    /// Number of public inputs: `3N + 4 + k`.
    pub fn public_count(&self) -> usize {
        3 * self.players + 4 + self.drawn
    }

    /// The width of a score difference: large enough for any in-range honest scores.
    pub fn score_bits(&self) -> u32 {
        // |z| <= D·2^(X_BITS−1)·2^(W_BITS−1) + 2^(W_BITS−1)·2^FX, a score is Σ n_i z_i over at
        // most N players, a difference is at most twice that, plus one.
        let d = self.model.inputs() as u128;
        let z = d * (1u128 << (X_BITS - 1 + W_BITS - 1)) + (1u128 << (W_BITS - 1 + FX));
        let bound = 2 * (self.players as u128) * (1u128 << SAMPLE_BITS) * z + 1;
        128 - bound.leading_zeros()
    }

    fn table_bits(&self) -> u32 {
        usize::BITS - self.rows.leading_zeros()
    }
}

impl ContributionWitness {
    /// The honest witness of a round: the aggregate, the table and the values computed from
    /// the models, the validation rows and the drawn coalitions.
    ///
    /// # Errors
    /// When the game cannot be formed (see [`round_game`]) or the models differ in size.
    pub fn honest(
        model: &Model,
        global: Vec<i64>,
        updates: Vec<Vec<i64>>,
        samples: Vec<u64>,
        rows: Vec<Vec<i64>>,
        labels: Vec<u32>,
        drawn: Vec<Coalition>,
    ) -> Result<Self, ContributionProofError> {
        if updates.len() != samples.len() || updates.iter().any(|u| u.len() != global.len()) {
            return Err(ContributionProofError::Shape(format!(
                "{} updates, {} sample counts",
                updates.len(),
                samples.len()
            )));
        }
        let weighted: Vec<WeightedModel> = updates
            .iter()
            .zip(&samples)
            .map(|(u, &n)| WeightedModel {
                samples: n,
                params: u.clone(),
            })
            .collect();
        let game = round_game(model, &global, &weighted, &rows, &labels)?;
        let table = contribution::exact::utility_table(&game)?;
        let numerators = shapley_numerators(&table)?;
        let aggregate = fedavg(&updates, &samples);
        Ok(ContributionWitness {
            global,
            updates,
            samples,
            aggregate,
            rows,
            labels,
            table,
            numerators,
            drawn,
        })
    }
}

/// The exact fixed-point FedAvg: `round(Σ_i n_i w_i / Σ_i n_i)` per coordinate, half up.
pub fn fedavg(updates: &[Vec<i64>], samples: &[u64]) -> Vec<i64> {
    let total: i128 = samples.iter().map(|&n| n as i128).sum();
    let len = updates.first().map_or(0, Vec::len);
    (0..len)
        .map(|k| {
            let sum: i128 = updates
                .iter()
                .zip(samples)
                .map(|(u, &n)| n as i128 * u[k] as i128)
                .sum();
            if total == 0 {
                0
            } else {
                round_div(sum, total) as i64
            }
        })
        .collect()
}

fn check_dims(
    shape: &ContributionShape,
    w: &ContributionWitness,
) -> Result<(), ContributionProofError> {
    shape.validate()?;
    let p = shape.model.param_count();
    let n = shape.players;
    let ok = w.global.len() == p
        && w.aggregate.len() == p
        && w.updates.len() == n
        && w.updates.iter().all(|u| u.len() == p)
        && w.samples.len() == n
        && w.rows.len() == shape.rows
        && w.rows.iter().all(|r| r.len() == shape.model.inputs())
        && w.labels.len() == shape.rows
        && w.table.len() == 1 << n
        && w.numerators.len() == n
        && w.drawn.len() == shape.drawn;
    if ok {
        Ok(())
    } else {
        Err(ContributionProofError::Shape(format!(
            "the witness does not match {n} players of {p} parameters, {} rows, {} drawn",
            shape.rows, shape.drawn
        )))
    }
}

/// The public inputs in order, from in-range witness values.
///
/// # Errors
/// Dimensions that do not match the shape, or a value with no commitment.
pub fn public_inputs<F: Field>(
    shape: &ContributionShape,
    w: &ContributionWitness,
) -> Result<Vec<F>, ContributionProofError> {
    check_dims(shape, w)?;
    let mut out = vec![commit::commit_params::<F>(&w.global)?];
    for u in &w.updates {
        out.push(commit::commit_params(u)?);
    }
    out.push(commit::commit_params(&w.aggregate)?);
    out.extend(w.samples.iter().map(|&n| F::from_i128(n as i128)));
    out.push(DataTree::<F>::new(&w.rows, &w.labels, shape.depth)?.root());
    out.push(commit::commit_params(&w.table)?);
    out.extend(w.numerators.iter().map(|&v| F::from_i128(v)));
    out.extend(w.drawn.iter().map(|&s| F::from_i128(s as i128)));
    Ok(out)
}

fn int_var<F: Field>(b: &mut Builder<F>, v: i128) -> Var {
    b.private(F::from_i128(v))
}

/// Builds the relation for `shape` from `w`. The program depends on `shape` only; a witness
/// that breaks the statement yields an assignment that fails [`Program::check`]. Errors only
/// when the witness does not have the shape's dimensions.
pub fn build<F: Field>(
    shape: &ContributionShape,
    w: &ContributionWitness,
) -> Result<(Program, Assignment<F>), ContributionProofError> {
    check_dims(shape, w)?;
    let n = shape.players;
    let classes = shape.model.classes();
    let mut b = Builder::<F>::new();

    // Public inputs, in order, with the values the prover claims (packed in field arithmetic so
    // that a forged witness still builds).
    let claim = commit::claimed_commitment::<F>;
    let c_t = b.public(claim(&w.global));
    let c_i: Vec<Var> = w.updates.iter().map(|u| b.public(claim(u))).collect();
    let c_next = b.public(claim(&w.aggregate));
    let n_i: Vec<Var> = w
        .samples
        .iter()
        .map(|&s| b.public(F::from_i128(s as i128)))
        .collect();
    let leaves: Vec<F> = w
        .rows
        .iter()
        .zip(&w.labels)
        .map(|(r, &y)| commit::claimed_row_leaf(r, y))
        .collect();
    let root = b.public(crate::poseidon::MerkleTree::new(&leaves, shape.depth).root());
    let h = b.public(claim(&w.table));
    let phi: Vec<Var> = w
        .numerators
        .iter()
        .map(|&v| b.public(F::from_i128(v)))
        .collect();
    let drawn: Vec<Var> = w
        .drawn
        .iter()
        .map(|&s| b.public(F::from_i128(s as i128)))
        .collect();

    // Models: range and commitment.
    b.section("commit");
    let mut models = Vec::with_capacity(n + 1);
    for (params, c) in std::iter::once(&w.global)
        .chain(&w.updates)
        .zip(std::iter::once(c_t).chain(c_i.iter().copied()))
    {
        let vars: Vec<Var> = params.iter().map(|&v| int_var(&mut b, v as i128)).collect();
        for &v in &vars {
            signed_range(&mut b, v, W_BITS);
        }
        let commitment = commit_params_var(&mut b, &vars);
        b.assert_eq(commitment, c);
        models.push(vars);
    }
    let aggregate: Vec<Var> = w
        .aggregate
        .iter()
        .map(|&v| int_var(&mut b, v as i128))
        .collect();
    for &v in &aggregate {
        signed_range(&mut b, v, W_BITS);
    }
    let commitment = commit_params_var(&mut b, &aggregate);
    b.assert_eq(commitment, c_next);
    for &s in &n_i {
        b.range(s, SAMPLE_BITS);
    }

    // Validation rows: range, one-hot labels, the tree over all 2^depth leaves.
    b.section("validation");
    let mut xs = Vec::with_capacity(shape.rows);
    let mut ys = Vec::with_capacity(shape.rows);
    let mut leaf_vars = Vec::with_capacity(1 << shape.depth);
    for (row, &label) in w.rows.iter().zip(&w.labels) {
        let x: Vec<Var> = row.iter().map(|&v| int_var(&mut b, v as i128)).collect();
        for &v in &x {
            signed_range(&mut b, v, X_BITS);
        }
        let y: Vec<Var> = (0..classes)
            .map(|j| int_var(&mut b, (label as usize == j) as i128))
            .collect();
        for &v in &y {
            boolean(&mut b, v);
        }
        let ones: Vec<(Coeff, Var)> = y.iter().map(|&v| (Coeff::ONE, v)).collect();
        b.assert_zero(&ones, Coeff::ONE.negated());
        let index: Vec<(Coeff, Var)> = y
            .iter()
            .enumerate()
            .map(|(j, &v)| (Coeff::from(j as i128), v))
            .collect();
        let label_var = b.linear(&index, Coeff::ZERO);
        leaf_vars.push(row_leaf_var(&mut b, &x, label_var));
        xs.push(x);
        ys.push(y);
    }
    let zero = arith::constant(&mut b, 0);
    leaf_vars.resize(1 << shape.depth, zero);
    while leaf_vars.len() > 1 {
        leaf_vars = leaf_vars
            .chunks(2)
            .map(|pair| hash2_var(&mut b, pair[0], pair[1]))
            .collect();
    }
    b.assert_eq(leaf_vars[0], root);

    // Logits of every model on every row, and the weighted ones n_i·z_i.
    b.section("logits");
    let layer = shape.model.layers()[0];
    let logistic = matches!(shape.model, Model::LogReg { .. });
    let logits: Vec<Vec<Vec<Var>>> = models
        .iter()
        .map(|params| {
            xs.iter()
                .map(|x| {
                    let mut z = Vec::with_capacity(classes);
                    if logistic {
                        z.push(zero);
                    }
                    for j in 0..layer.d_out {
                        let weights: Vec<Var> = (0..layer.d_in)
                            .map(|d| params[layer.weight(d, j)])
                            .collect();
                        let dot = b.dot(x, &weights);
                        z.push(b.linear(
                            &[(Coeff::ONE, dot), (Coeff::pow2(FX), params[layer.bias(j)])],
                            Coeff::ZERO,
                        ));
                    }
                    z
                })
                .collect()
        })
        .collect();
    let weighted: Vec<Vec<Vec<Var>>> = (0..n)
        .map(|i| {
            logits[i + 1]
                .iter()
                .map(|z| z.iter().map(|&v| b.mul(n_i[i], v)).collect())
                .collect()
        })
        .collect();

    // The table and its commitment.
    b.section("table");
    let table: Vec<Var> = w
        .table
        .iter()
        .map(|&v| int_var(&mut b, v as i128))
        .collect();
    for &v in &table {
        b.range(v, shape.table_bits());
        let over = b.linear(
            &[(Coeff::ONE.negated(), v)],
            Coeff::from(shape.rows as i128),
        );
        b.range(over, shape.table_bits());
    }
    let commitment = commit_params_var(&mut b, &table);
    b.assert_eq(commitment, h);

    // Utilities of the checked coalitions.
    b.section("utilities");
    let score_bits = shape.score_bits();
    for s in fixed(n) {
        // [n_S = 0]: the coalition's members are all absent (always for ∅).
        let members: Vec<(Coeff, Var)> = (0..n)
            .filter(|i| s >> i & 1 == 1)
            .map(|i| (Coeff::ONE, n_i[i]))
            .collect();
        let n_s = b.linear(&members, Coeff::ZERO);
        let empty = arith::is_zero(&mut b, n_s);
        let scores: Vec<Vec<Var>> = (0..shape.rows)
            .map(|r| {
                if s == 0 {
                    return logits[0][r].clone();
                }
                (0..classes)
                    .map(|j| {
                        let mut terms: Vec<(Coeff, Var)> = (0..n)
                            .filter(|i| s >> i & 1 == 1)
                            .map(|i| (Coeff::ONE, weighted[i][r][j]))
                            .collect();
                        terms.push((Coeff::ONE, b.mul(empty, logits[0][r][j])));
                        b.linear(&terms, Coeff::ZERO)
                    })
                    .collect()
            })
            .collect();
        let count = correct_rows(&mut b, &scores, &ys, score_bits);
        b.assert_eq(count, table[s as usize]);
    }
    for &d in &drawn {
        let bits = b.bits(d, n);
        let members: Vec<Var> = (0..n).map(|i| b.mul(bits[i], n_i[i])).collect();
        let members: Vec<(Coeff, Var)> = members.iter().map(|&v| (Coeff::ONE, v)).collect();
        let n_s = b.linear(&members, Coeff::ZERO);
        let empty = arith::is_zero(&mut b, n_s);
        let scores: Vec<Vec<Var>> = (0..shape.rows)
            .map(|r| {
                (0..classes)
                    .map(|j| {
                        let mut parts: Vec<Var> =
                            (0..n).map(|i| b.mul(bits[i], weighted[i][r][j])).collect();
                        parts.push(b.mul(empty, logits[0][r][j]));
                        let terms: Vec<(Coeff, Var)> =
                            parts.iter().map(|&v| (Coeff::ONE, v)).collect();
                        b.linear(&terms, Coeff::ZERO)
                    })
                    .collect()
            })
            .collect();
        let count = correct_rows(&mut b, &scores, &ys, score_bits);
        let entry = select(&mut b, &table, &bits);
        b.assert_eq(count, entry);
    }

    // The Shapley values over the whole table.
    b.section("shapley");
    for (i, &value) in phi.iter().enumerate() {
        let bit = 1usize << i;
        let mut terms = vec![(Coeff::ONE.negated(), value)];
        for s in (0..1usize << n).filter(|s| s & bit == 0) {
            let c = weight(n, s.count_ones() as usize);
            terms.push((Coeff::from(c), table[s | bit]));
            terms.push((Coeff::from(-c), table[s]));
        }
        b.assert_zero(&terms, Coeff::ZERO);
    }

    // Aggregation: w_{t+1} = round(Σ n_i w_i / n_P), as an unsigned division of the offset sum.
    b.section("aggregate");
    let total_terms: Vec<(Coeff, Var)> = n_i.iter().map(|&v| (Coeff::ONE, v)).collect();
    let total = b.linear(&total_terms, Coeff::ZERO);
    let total_bits = SAMPLE_BITS + usize::BITS - n.leading_zeros();
    let offset = Coeff::pow2(W_BITS - 1);
    for (k, &a) in aggregate.iter().enumerate() {
        let parts: Vec<Var> = (0..n).map(|i| b.mul(n_i[i], models[i + 1][k])).collect();
        let mut terms: Vec<(Coeff, Var)> = parts.iter().map(|&v| (Coeff::ONE, v)).collect();
        terms.push((offset, total));
        let shifted = b.linear(&terms, Coeff::ZERO);
        let q = arith::round_div(&mut b, shifted, total, W_BITS, total_bits);
        b.assert_zero(
            &[(Coeff::ONE, q), (Coeff::ONE.negated(), a)],
            offset.negated(),
        );
    }
    Ok(b.finish())
}

/// `Σ_r [argmax_j scores[r] = label_r]`, the argmax the lowest index among the maxima.
fn correct_rows<F: Field>(
    b: &mut Builder<F>,
    scores: &[Vec<Var>],
    labels: &[Vec<Var>],
    bits: u32,
) -> Var {
    let mut correct = Vec::with_capacity(scores.len());
    for (s, y) in scores.iter().zip(labels) {
        let values: Vec<i128> = s.iter().map(|&v| arith::int_or_zero(b, v)).collect();
        let best =
            (0..values.len()).fold(0, |best, j| if values[j] > values[best] { j } else { best });
        let e: Vec<Var> = (0..s.len())
            .map(|j| int_var(b, (j == best) as i128))
            .collect();
        for &v in &e {
            boolean(b, v);
        }
        let ones: Vec<(Coeff, Var)> = e.iter().map(|&v| (Coeff::ONE, v)).collect();
        b.assert_zero(&ones, Coeff::ONE.negated());
        let top = b.dot(&e, s);
        for j in 0..s.len() {
            // s* − s_j − [j < j*] with [j < j*] = Σ_{m > j} e_m.
            let mut terms = vec![(Coeff::ONE, top), (Coeff::ONE.negated(), s[j])];
            terms.extend(e[j + 1..].iter().map(|&v| (Coeff::ONE.negated(), v)));
            let gap = b.linear(&terms, Coeff::ZERO);
            b.range(gap, bits);
        }
        correct.push(b.dot(&e, y));
    }
    let terms: Vec<(Coeff, Var)> = correct.iter().map(|&v| (Coeff::ONE, v)).collect();
    b.linear(&terms, Coeff::ZERO)
}

/// `table[Σ 2^i bits_i]` by a tree of multiplexers (`2^n − 1` products).
fn select<F: Field>(b: &mut Builder<F>, table: &[Var], bits: &[Var]) -> Var {
    let mut level = table.to_vec();
    for &bit in bits {
        level = level
            .chunks(2)
            .map(|pair| {
                let diff = b.sub(pair[1], pair[0]);
                let picked = b.mul(bit, diff);
                b.add(pair[0], picked)
            })
            .collect();
    }
    level[0]
}
