//! Wires: linear combinations of R1CS variables with their values, and the few ways of making
//! constraints out of them.

use ark_bn254::Fr;
use ark_ff::{One, Zero};
use ark_relations::gr1cs::{ConstraintSystemRef, LinearCombination, SynthesisError, Variable};

/// A linear combination of R1CS variables (`Variable::one()` carries the constant) and, when
/// proving, its value. Terms are sorted by variable, distinct, with non-zero coefficients.
#[derive(Clone, Debug)]
pub(crate) struct Wire {
    terms: Vec<(Fr, Variable)>,
    value: Option<Fr>,
}

impl Wire {
    /// A single variable.
    pub(crate) fn var(v: Variable, value: Option<Fr>) -> Wire {
        Wire {
            terms: vec![(Fr::one(), v)],
            value,
        }
    }

    /// A constant (no variable but the constant one).
    pub(crate) fn constant(c: Fr, proving: bool) -> Wire {
        let terms = if c.is_zero() {
            Vec::new()
        } else {
            vec![(c, Variable::one())]
        };
        Wire {
            terms,
            value: proving.then_some(c),
        }
    }

    /// `constant + Σ coeff · wire`, merged so every variable appears once.
    pub(crate) fn combine<'a>(
        parts: impl IntoIterator<Item = (Fr, &'a Wire)>,
        constant: Fr,
        proving: bool,
    ) -> Wire {
        let mut terms: Vec<(Fr, Variable)> = Vec::new();
        let mut value = proving.then_some(constant);
        if !constant.is_zero() {
            terms.push((constant, Variable::one()));
        }
        for (c, w) in parts {
            terms.extend(w.terms.iter().map(|(d, v)| (c * d, *v)));
            value = match (value, w.value) {
                (Some(acc), Some(x)) => Some(acc + c * x),
                _ => None,
            };
        }
        terms.sort_unstable_by_key(|(_, v)| *v);
        let mut merged: Vec<(Fr, Variable)> = Vec::with_capacity(terms.len());
        for (c, v) in terms {
            match merged.last_mut() {
                Some((acc, last)) if *last == v => *acc += c,
                _ => merged.push((c, v)),
            }
        }
        merged.retain(|(c, _)| !c.is_zero());
        Wire {
            terms: merged,
            value,
        }
    }

    /// The value (`None` while generating keys).
    pub(crate) fn value(&self) -> Option<Fr> {
        self.value
    }

    /// The arkworks form.
    fn lc(&self) -> LinearCombination<Fr> {
        LinearCombination(self.terms.clone())
    }
}

/// A constraint system being filled, with the handful of gadgets the compiler needs.
pub(crate) struct R1cs {
    pub(crate) cs: ConstraintSystemRef<Fr>,
    /// Whether values are being computed (proving) or only the shape (key generation).
    pub(crate) proving: bool,
}

/// The result type of constraint synthesis.
pub(crate) type Synth<T> = Result<T, SynthesisError>;

impl R1cs {
    /// A new witness variable with the given value.
    pub(crate) fn witness(&self, value: Option<Fr>) -> Synth<Wire> {
        let v = self
            .cs
            .new_witness_variable(|| value.ok_or(SynthesisError::AssignmentMissing))?;
        Ok(Wire::var(v, value))
    }

    /// Enforces `a · b = c`.
    pub(crate) fn enforce(&self, a: &Wire, b: &Wire, c: &Wire) -> Synth<()> {
        self.cs
            .enforce_r1cs_constraint(|| a.lc(), || b.lc(), || c.lc())
    }

    /// Enforces `a = b` (one constraint, `(a - b) · 1 = 0`).
    pub(crate) fn enforce_zero(&self, a: &Wire) -> Synth<()> {
        self.enforce(a, &self.one(), &self.zero())
    }

    /// The constant one.
    pub(crate) fn one(&self) -> Wire {
        Wire::constant(Fr::one(), self.proving)
    }

    /// The constant zero.
    pub(crate) fn zero(&self) -> Wire {
        Wire::constant(Fr::zero(), self.proving)
    }

    /// A new variable `a · b` (one constraint).
    pub(crate) fn mul(&self, a: &Wire, b: &Wire) -> Synth<Wire> {
        let value = a.value.zip(b.value).map(|(x, y)| x * y);
        let out = self.witness(value)?;
        self.enforce(a, b, &out)?;
        Ok(out)
    }

    /// Enforces `b ∈ {0, 1}` as `b · (1 - b) = 0`.
    pub(crate) fn enforce_boolean(&self, b: &Wire) -> Synth<()> {
        let one_minus = Wire::combine([(-Fr::one(), b)], Fr::one(), self.proving);
        self.enforce(b, &one_minus, &self.zero())
    }
}
