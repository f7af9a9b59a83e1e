//! One fixed-point SGD step on committed data: the relation.
//!
//! **Public inputs** (always five, in this order):
//! 1. `C_t = commit_params(w_t)`, 2. `C_{t+1} = commit_params(w_{t+1})`
//!    ([`crate::gadgets::commit::commit_params`]),
//! 3. `R`, the root of the provider's [`crate::gadgets::commit::DataTree`],
//! 4. the learning rate `η` (at `2^FLR`), 5. the tolerance `ε` (at `2^FW`; must equal the
//!    shape's).
//!
//! **Statement.** There are parameters `w_t`, `w_{t+1}` and `B` rows `(x_b, y_b)` at strictly
//! increasing indices `i_b` such that:
//! - each row's leaf opens to `R` along the path selected by the bits of `i_b` (distinct rows
//!   of the committed data set, features and labels in range);
//! - `|w_t| < 2^(W_BITS-1)` units, `C_t`, `C_{t+1}` open to `w_t`, `w_{t+1}`;
//! - with `G` the gradient sums of the exact fixed-point step from `w_t` on the batch
//!   ([`crate::reference::fixed_step`]), `M = B·2^(F_in+FP)` its update denominator and
//!   `Δ = w_t - w_{t+1}`:
//!   `|Δ| < 2^(DELTA_BITS-1)` and `-T <= D < T` for `D = Δ·M - η·G` in every coordinate, where
//!   `T = 2^⌊log2(ε·M)⌋ <= ε·M`.
//!
//! `D = (w' - w_{t+1})·M` for the exact rational update `w' = w_t - η·G/M`, so the proof shows
//! `|w' - w_{t+1}| <= ε` in every coordinate, with no rounding of the update; an honest prover
//! needs `|w' - w_{t+1}| < T/M`, which is more than `ε/2`. The bound on `Δ` makes `w_{t+1}` an
//! integer of at most 24 bits, so its packing is injective. The program depends on the shape
//! only, never on witness values.
//!
//! **Sections** for [`crate::Program::cost`]: `rows` (feature and label ranges, leaves, index
//! order), `merkle`, `commit` (parameter ranges and commitments), `forward`, `softmax`,
//! `backward`, `update`.

use thiserror::Error;

use crate::field::{Coeff, Field};
use crate::fixed::{DELTA_BITS, FH, FP, FW, FX, LR_BITS, W_BITS, X_BITS};
use crate::gadgets::arith::{self, boolean, round_shift_signed, round_shift_unchecked};
use crate::gadgets::commit::{
    self, CommitError, DataTree, commit_params_var, open_leaf_var, row_leaf_var,
};
use crate::gadgets::nonlinear::{relu, softmax};
use crate::poseidon::merkle_root_from_path;
use crate::program::{Assignment, Builder, Program, Var};
use crate::reference::fixed_step::{
    self, ReferenceError, hidden_error_bits, logit_frac, param_denominators, update_denominator,
};
use crate::reference::{Layer, Model};

/// Number of public inputs.
pub const PUBLIC_INPUTS: usize = 5;

/// The recommended tolerance: 8 units of `2^-FW` (`ε = 2^-13 ≈ 1.2e-4`).
///
/// Measured on digits (softmax 64→10, MLP 64→16→10) and breast cancer (logreg 30→1), lr 0.1,
/// batch 16, 60 steps from a random start (`tests/float_vs_fixed.rs`): the exact fixed-point
/// step from the quantized float `w_t` is within 1.0 unit of the quantized float `w_{t+1}` in
/// every coordinate, while the median update is about 200 units. With `ε = 8` an honest prover
/// has a tolerance of more than 4 units (4x margin) and a step that changes nothing fails.
pub const DEFAULT_EPS: i64 = 8;

/// What a proving key is made for: the model, the batch size, the data tree's depth and the
/// tolerance. Its JSON form names the shape in proof files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TrainingStepShape {
    /// The model and its widths.
    pub model: Model,
    /// Rows per batch.
    pub batch: usize,
    /// Depth of the data set's Merkle tree.
    pub depth: u32,
    /// The tolerance `ε` in units of `2^-FW` (positive).
    pub eps: i64,
}

/// The prover's secret: both checkpoints (quantized), the learning rate and the batch with its
/// openings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainingStepWitness<F> {
    /// Parameters at step `t`, at `2^FW`, in the model's flat order.
    pub params_t: Vec<i64>,
    /// Parameters at step `t+1`.
    pub params_t1: Vec<i64>,
    /// The learning rate at `2^FLR`.
    pub lr: i64,
    /// The batch's features at `2^FX`, in increasing index order.
    pub rows: Vec<Vec<i64>>,
    /// The batch's labels.
    pub labels: Vec<u32>,
    /// The rows' indices in the data set, strictly increasing.
    pub indices: Vec<u64>,
    /// Each row's Merkle path (siblings, leaf level first).
    pub paths: Vec<Vec<F>>,
    /// For an MLP, the float training's ReLU mask of each row's hidden units, which decides
    /// the mask inside the dead zone ([`crate::fixed::relu_mask`]); empty: `ā > 0` everywhere.
    pub masks: Vec<Vec<bool>>,
}

/// Why a relation cannot be built or its public inputs computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StepError {
    /// The shape is unusable, or the witness does not have its dimensions.
    #[error("training-step shape: {0}")]
    Shape(String),
    /// A commitment cannot be formed from the witness.
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// The reference step is undefined for the dummy witness.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
}

/// The variables of a built step that tests and diagnostics inspect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepTrace {
    /// The gradient sums `G`, flat in parameter order (scale `2^(FX+FP)`).
    pub grad: Vec<Var>,
    /// The output errors `δ`, one row per batch row (scale `2^FP`).
    pub delta: Vec<Vec<Var>>,
}

impl TrainingStepShape {
    /// Checks that the shape can be built.
    pub fn validate(&self) -> Result<(), StepError> {
        let bad = |why: String| Err(StepError::Shape(why));
        if !self.model.is_valid() {
            return bad(format!("invalid model {:?}", self.model));
        }
        if self.batch == 0 || self.depth > 32 || self.batch as u64 > 1u64 << self.depth {
            return bad(format!(
                "batch {} of distinct rows in a tree of depth {}",
                self.batch, self.depth
            ));
        }
        if self.eps <= 0 || self.eps >= 1 << 40 {
            return bad(format!("tolerance {} units", self.eps));
        }
        Ok(())
    }

    /// The signed width `k` of the tolerance check of a parameter with update denominator `m`:
    /// `T = 2^(k-1) = 2^⌊log2(ε·m)⌋`.
    pub fn tolerance_bits(&self, m: i128) -> u32 {
        let scaled = (self.eps.max(1) as i128) * m;
        128 - scaled.leading_zeros()
    }

    /// The tolerance an honest prover must meet, in parameter units: `T / M` (in `(ε/2, ε]`; the
    /// same for every layer, whose `M` differ by powers of two).
    pub fn honest_tolerance(&self) -> f64 {
        let m = update_denominator(self.batch, FX);
        (1i128 << (self.tolerance_bits(m) - 1)) as f64 / m as f64
    }
}

fn check_dims<F>(shape: &TrainingStepShape, w: &TrainingStepWitness<F>) -> Result<(), StepError> {
    shape.validate()?;
    let n = shape.model.param_count();
    let d = shape.model.inputs();
    let ok = w.params_t.len() == n
        && w.params_t1.len() == n
        && w.rows.len() == shape.batch
        && w.rows.iter().all(|r| r.len() == d)
        && w.labels.len() == shape.batch
        && w.indices.len() == shape.batch
        && w.paths.len() == shape.batch
        && w.paths.iter().all(|p| p.len() == shape.depth as usize);
    if ok {
        Ok(())
    } else {
        Err(StepError::Shape(format!(
            "witness does not match {n} parameters, batch {} of {d} features, depth {}",
            shape.batch, shape.depth
        )))
    }
}

/// The public inputs in order, from in-range witness values; fails if a checkpoint or a row
/// has no commitment.
pub fn public_inputs<F: Field>(
    shape: &TrainingStepShape,
    w: &TrainingStepWitness<F>,
) -> Result<Vec<F>, StepError> {
    check_dims(shape, w)?;
    let leaf = commit::row_leaf::<F>(&w.rows[0], w.labels[0])?;
    Ok(vec![
        commit::commit_params(&w.params_t)?,
        commit::commit_params(&w.params_t1)?,
        merkle_root_from_path(leaf, w.indices[0], &w.paths[0]),
        F::from_i128(w.lr as i128),
        F::from_i128(shape.eps as i128),
    ])
}

/// The public inputs as the prover claims them, for any witness values (packing in field
/// arithmetic), so that building never fails on out-of-range values.
fn claimed_public_inputs<F: Field>(
    shape: &TrainingStepShape,
    w: &TrainingStepWitness<F>,
) -> [F; PUBLIC_INPUTS] {
    let leaf = commit::claimed_row_leaf(&w.rows[0], w.labels[0]);
    [
        commit::claimed_commitment(&w.params_t),
        commit::claimed_commitment(&w.params_t1),
        merkle_root_from_path(leaf, w.indices[0], &w.paths[0]),
        F::from_i128(w.lr as i128),
        F::from_i128(shape.eps as i128),
    ]
}

/// Builds the relation for `shape` from `w`. The program depends on `shape` only; a witness that
/// is not a valid step yields an assignment that fails [`Program::check`]. Errors only when the
/// witness does not have the shape's dimensions.
pub fn build<F: Field>(
    shape: &TrainingStepShape,
    w: &TrainingStepWitness<F>,
) -> Result<(Program, Assignment<F>), StepError> {
    build_traced(shape, w).map(|(p, a, _)| (p, a))
}

fn int_var<F: Field>(b: &mut Builder<F>, v: i128) -> Var {
    b.private(F::from_i128(v))
}

/// One batch row inside the circuit: its features and its one-hot label (a single 0/1 target for
/// logistic regression).
struct RowVars {
    x: Vec<Var>,
    y: Vec<Var>,
}

/// The `rows` and `merkle` sections: features and labels in range, leaves opening to the root,
/// indices strictly increasing.
fn rows_section<F: Field>(
    b: &mut Builder<F>,
    shape: &TrainingStepShape,
    w: &TrainingStepWitness<F>,
    root: Var,
) -> Vec<RowVars> {
    let mut rows = Vec::with_capacity(shape.batch);
    let mut previous: Option<Var> = None;
    for r in 0..shape.batch {
        b.section("rows");
        let x: Vec<Var> = w.rows[r].iter().map(|v| int_var(b, *v as i128)).collect();
        for v in &x {
            arith::signed_range(b, *v, X_BITS);
        }
        let label = int_var(b, w.labels[r] as i128);
        let y = match shape.model {
            Model::LogReg { .. } => {
                boolean(b, label);
                vec![label]
            }
            _ => {
                let classes = shape.model.classes();
                let y: Vec<Var> = (0..classes)
                    .map(|j| int_var(b, (w.labels[r] as usize == j) as i128))
                    .collect();
                let mut sum = Vec::with_capacity(classes);
                let mut weighted = vec![(Coeff::ONE.negated(), label)];
                for (j, yj) in y.iter().enumerate() {
                    boolean(b, *yj);
                    sum.push((Coeff::ONE, *yj));
                    weighted.push((Coeff::from(j as i128), *yj));
                }
                b.assert_zero(&sum, Coeff::ONE.negated());
                b.assert_zero(&weighted, Coeff::ZERO);
                y
            }
        };
        let leaf = row_leaf_var(b, &x, label);
        let index = int_var(b, w.indices[r] as i128);
        if let Some(prev) = previous {
            let gap = b.linear(
                &[(Coeff::ONE, index), (Coeff::ONE.negated(), prev)],
                Coeff::ONE.negated(),
            );
            b.range(gap, shape.depth);
        }
        previous = Some(index);
        b.section("merkle");
        let siblings: Vec<Var> = w.paths[r].iter().map(|s| b.private(*s)).collect();
        let reached = open_leaf_var(b, leaf, index, &siblings);
        b.assert_eq(reached, root);
        rows.push(RowVars { x, y });
    }
    rows
}

/// `Σ_i x_i·W[i,k] + b_k·2^shift` for each output `k` of a layer.
fn dense<F: Field>(
    b: &mut Builder<F>,
    params: &[Var],
    layer: Layer,
    x: &[Var],
    shift: u32,
) -> Vec<Var> {
    (0..layer.d_out)
        .map(|k| {
            let column: Vec<Var> = (0..layer.d_in)
                .map(|i| params[layer.weight(i, k)])
                .collect();
            let dot = b.dot(x, &column);
            b.linear(
                &[
                    (Coeff::ONE, dot),
                    (Coeff::pow2(shift), params[layer.bias(k)]),
                ],
                Coeff::ZERO,
            )
        })
        .collect()
}

/// The output errors `δ = p - y·2^FP` of one row's logits (section `softmax`).
fn output_error<F: Field>(b: &mut Builder<F>, model: &Model, z: &[Var], y: &[Var]) -> Vec<Var> {
    b.section("softmax");
    let logits = match model {
        Model::LogReg { .. } => vec![b.constant(Coeff::ZERO), z[0]],
        _ => z.to_vec(),
    };
    let p = softmax(b, &logits, logit_frac(model));
    let p = &p[p.len() - y.len()..];
    p.iter()
        .zip(y)
        .map(|(pj, yj)| {
            b.linear(
                &[(Coeff::ONE, *pj), (Coeff::pow2(FP).negated(), *yj)],
                Coeff::ZERO,
            )
        })
        .collect()
}

/// Adds one layer's gradient sums over the batch into `grad` (section `backward`).
fn layer_gradient<F: Field>(
    b: &mut Builder<F>,
    grad: &mut [Option<Var>],
    layer: Layer,
    inputs: &[Vec<Var>],
    errors: &[Vec<Var>],
    shift: u32,
) {
    for i in 0..layer.d_in {
        let xs: Vec<Var> = inputs.iter().map(|x| x[i]).collect();
        for k in 0..layer.d_out {
            let ds: Vec<Var> = errors.iter().map(|d| d[k]).collect();
            grad[layer.weight(i, k)] = Some(b.dot(&xs, &ds));
        }
    }
    for k in 0..layer.d_out {
        let terms: Vec<(Coeff, Var)> = errors.iter().map(|d| (Coeff::pow2(shift), d[k])).collect();
        grad[layer.bias(k)] = Some(b.linear(&terms, Coeff::ZERO));
    }
}

/// Forward and backward passes: the gradient sums and output errors.
fn gradient_sections<F: Field>(
    b: &mut Builder<F>,
    model: &Model,
    params: &[Var],
    rows: &[RowVars],
    hints: &[Vec<bool>],
) -> StepTrace {
    let layers = model.layers();
    let mut grad: Vec<Option<Var>> = vec![None; params.len()];
    let mut delta = Vec::with_capacity(rows.len());
    let xs: Vec<Vec<Var>> = rows.iter().map(|r| r.x.clone()).collect();
    match *model {
        Model::Mlp {
            hidden, classes, ..
        } => {
            let out = layers[1];
            let (mut hs, mut masks) = (Vec::new(), Vec::new());
            for (r, row) in rows.iter().enumerate() {
                b.section("forward");
                let a = dense(b, params, layers[0], &row.x, FX);
                let (h, s): (Vec<Var>, Vec<Var>) = a
                    .iter()
                    .enumerate()
                    .map(|(k, ak)| {
                        let rounded = round_shift_unchecked(b, *ak, FX + FW - FH);
                        relu(b, rounded, hints.get(r).and_then(|m| m.get(k)).copied())
                    })
                    .unzip();
                let z = dense(b, params, out, &h, FH);
                delta.push(output_error(b, model, &z, &row.y));
                hs.push(h);
                masks.push(s);
            }
            b.section("backward");
            let mut hidden_errors = Vec::with_capacity(rows.len());
            for (d, s) in delta.iter().zip(&masks) {
                let row_errors: Vec<Var> = (0..hidden)
                    .map(|k| {
                        let weights: Vec<Var> =
                            (0..classes).map(|j| params[out.weight(k, j)]).collect();
                        let back = b.dot(&weights, d);
                        let dk = round_shift_signed(b, back, FW, hidden_error_bits(classes));
                        b.mul(s[k], dk)
                    })
                    .collect();
                hidden_errors.push(row_errors);
            }
            layer_gradient(b, &mut grad, out, &hs, &delta, FH);
            layer_gradient(b, &mut grad, layers[0], &xs, &hidden_errors, FX);
        }
        _ => {
            for row in rows {
                b.section("forward");
                let z = dense(b, params, layers[0], &row.x, FX);
                delta.push(output_error(b, model, &z, &row.y));
            }
            b.section("backward");
            layer_gradient(b, &mut grad, layers[0], &xs, &delta, FX);
        }
    }
    let grad = grad
        .into_iter()
        .map(|g| g.expect("every parameter belongs to one layer"))
        .collect();
    StepTrace { grad, delta }
}

/// [`build`], also returning the gradient and output-error variables.
pub fn build_traced<F: Field>(
    shape: &TrainingStepShape,
    w: &TrainingStepWitness<F>,
) -> Result<(Program, Assignment<F>, StepTrace), StepError> {
    check_dims(shape, w)?;
    let mut b = Builder::<F>::new();
    b.section("commit");
    let claimed = claimed_public_inputs(shape, w);
    let [c_t, c_t1, root, lr, eps] = claimed.map(|v| b.public(v));
    let rows = rows_section(&mut b, shape, w, root);

    b.section("commit");
    let params: Vec<Var> = w
        .params_t
        .iter()
        .map(|v| int_var(&mut b, *v as i128))
        .collect();
    let next: Vec<Var> = w
        .params_t1
        .iter()
        .map(|v| int_var(&mut b, *v as i128))
        .collect();
    for p in &params {
        arith::signed_range(&mut b, *p, W_BITS);
    }
    let opened = commit_params_var(&mut b, &params);
    b.assert_eq(opened, c_t);
    let opened = commit_params_var(&mut b, &next);
    b.assert_eq(opened, c_t1);

    let trace = gradient_sections(&mut b, &shape.model, &params, &rows, &w.masks);

    b.section("update");
    b.range(lr, LR_BITS);
    b.assert_zero(&[(Coeff::ONE, eps)], Coeff::from(-(shape.eps as i128)));
    let denominators = param_denominators(&shape.model, shape.batch);
    for (((p, n), g), m) in params.iter().zip(&next).zip(&trace.grad).zip(denominators) {
        let k = shape.tolerance_bits(m);
        let m = Coeff::from(m);
        let delta = b.sub(*p, *n);
        arith::signed_range(&mut b, delta, DELTA_BITS);
        let step = b.mul(lr, *g);
        let gap = b.linear(&[(m, delta), (Coeff::ONE.negated(), step)], Coeff::ZERO);
        arith::signed_range(&mut b, gap, k);
    }
    let (program, assignment) = b.finish();
    Ok((program, assignment, trace))
}

/// A valid witness of zeros for `shape` (zero parameters, zero rows, the learning rate `1/16`),
/// for key generation and tests.
pub fn dummy_witness<F: Field>(
    shape: &TrainingStepShape,
) -> Result<TrainingStepWitness<F>, StepError> {
    shape.validate()?;
    let params_t = vec![0i64; shape.model.param_count()];
    let rows = vec![vec![0i64; shape.model.inputs()]; shape.batch];
    let labels = vec![0u32; shape.batch];
    let lr = 1i64 << 12;
    let params_t1 = fixed_step::step(&shape.model, &params_t, &rows, &labels, lr)?;
    let tree = DataTree::<F>::new(&rows, &labels, shape.depth)?;
    let indices: Vec<u64> = (0..shape.batch as u64).collect();
    let paths = indices
        .iter()
        .map(|i| tree.path(*i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TrainingStepWitness {
        params_t,
        params_t1,
        lr,
        rows,
        labels,
        indices,
        paths,
        masks: Vec::new(),
    })
}
