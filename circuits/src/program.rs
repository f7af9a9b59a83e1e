//! The gadget interface: a straight-line constraint program and the builder relations use.
//!
//! A [`Program`] is a list of [`Op`]s over numbered variables. Its shape does not depend on the
//! witness: building a relation from an honest witness, from a forged one or from zeros gives the
//! same program, which is what proving keys are made for (keys are cached by
//! [`Program::digest`]). The values live apart, in an [`Assignment`] over one back end's field.
//!
//! Every op both constrains and computes: [`Builder`] fills in the value of each new variable as
//! it records the op, so a relation never writes a witness by hand except for its inputs and for
//! *hints* (values a later op constrains, like a quotient).

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::field::{Coeff, Field};

/// A variable of a program: an index into the assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Var(pub u32);

impl Var {
    /// The index into [`Assignment::values`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A linear combination `constant + Σ coeff·var`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lin {
    /// The `(coefficient, variable)` terms.
    pub terms: Vec<(Coeff, Var)>,
    /// The constant term.
    pub constant: Coeff,
}

impl Lin {
    /// Its value under an assignment.
    pub fn eval<F: Field>(&self, values: &[F]) -> F {
        self.terms
            .iter()
            .fold(F::from_coeff(self.constant), |acc, (c, v)| {
                acc + F::from_coeff(*c) * values[v.index()]
            })
    }
}

/// One step of a program. Each op defines its output variables (if any) and constrains them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// A witness value chosen by the prover. `public` ones form the statement, in order of
    /// appearance; private ones are the secret witness or hints that later ops constrain.
    Input {
        /// The new variable.
        out: Var,
        /// Whether it is a public input.
        public: bool,
    },
    /// `out = lin`.
    Linear {
        /// The new variable.
        out: Var,
        /// Its definition.
        lin: Lin,
    },
    /// `out = a · b`.
    Mul {
        /// The new variable.
        out: Var,
        /// Left factor.
        a: Var,
        /// Right factor.
        b: Var,
    },
    /// `out = Σ a[i] · b[i]` (same lengths, at least one term).
    Dot {
        /// The new variable.
        out: Var,
        /// Left factors.
        a: Vec<Var>,
        /// Right factors.
        b: Vec<Var>,
    },
    /// `lin = 0`.
    AssertZero {
        /// The combination that must vanish.
        lin: Lin,
    },
    /// `0 <= v < 2^bits` (as an integer representative), for `bits <= 128`.
    Range {
        /// The checked variable.
        v: Var,
        /// Its width.
        bits: u32,
    },
    /// `v = Σ 2^i · bits[i]` with every `bits[i]` in `{0, 1}` (so `0 <= v < 2^bits.len()`).
    Bits {
        /// The decomposed variable.
        v: Var,
        /// New variables, least significant first.
        bits: Vec<Var>,
    },
    /// `output = Poseidon permutation(input)`, width 3, in the back end's field.
    Permute {
        /// The state before.
        input: [Var; 3],
        /// New variables: the state after.
        output: [Var; 3],
    },
}

/// The shape of a relation: ops, variable count and the public inputs in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    /// The ops, in definition order (every op only reads variables defined before it).
    pub ops: Vec<Op>,
    /// How many variables the ops define.
    pub num_vars: u32,
    /// The public inputs, in the order a verifier supplies them.
    pub public: Vec<Var>,
    /// For each op, the index into `sections` of the part of the relation it belongs to.
    pub op_section: Vec<u16>,
    /// Names of the relation's parts ("macs", "merkle", ...), for cost breakdowns.
    pub sections: Vec<&'static str>,
}

/// Values of every variable of a program, in one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment<F> {
    /// `values[v.index()]` is the value of `v`.
    pub values: Vec<F>,
}

impl<F: Field> Assignment<F> {
    /// The value of a variable.
    pub fn value(&self, v: Var) -> F {
        self.values[v.index()]
    }

    /// The public inputs' values, in the program's order.
    pub fn public_inputs(&self, program: &Program) -> Vec<F> {
        program.public.iter().map(|v| self.value(*v)).collect()
    }
}

/// Why an assignment does not satisfy a program.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("constraint {op} ({kind}, section {section}) is not satisfied")]
pub struct Unsatisfied {
    /// Index of the failing op.
    pub op: usize,
    /// Which kind of op it is.
    pub kind: &'static str,
    /// The part of the relation it belongs to.
    pub section: &'static str,
}

/// Cost of a program by section, as counted for R1CS (one constraint per product, per bit and
/// per S-box multiplication; linear combinations are free).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Section name → R1CS constraints.
    pub by_section: BTreeMap<String, u64>,
    /// Total R1CS constraints.
    pub total: u64,
}

/// R1CS constraints of one width-3 Poseidon permutation with the circom round counts (8 full and
/// 57 partial rounds, 3 constraints per S-box).
pub const PERMUTE_R1CS: u64 = 3 * (8 * 3 + 57);

impl Op {
    /// A short name for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Linear { .. } => "linear",
            Op::Mul { .. } => "mul",
            Op::Dot { .. } => "dot",
            Op::AssertZero { .. } => "assert-zero",
            Op::Range { .. } => "range",
            Op::Bits { .. } => "bits",
            Op::Permute { .. } => "permute",
        }
    }

    /// Its R1CS constraint count (a linear op the back end materializes costs one more; see
    /// [`Program::cost`]).
    pub fn r1cs_cost(&self) -> u64 {
        match self {
            Op::Input { .. } | Op::Linear { .. } => 0,
            Op::Mul { .. } | Op::AssertZero { .. } => 1,
            Op::Dot { a, .. } => a.len() as u64,
            Op::Range { bits, .. } => *bits as u64 + 1,
            Op::Bits { bits, .. } => bits.len() as u64 + 1,
            Op::Permute { .. } => PERMUTE_R1CS,
        }
    }
}

impl Program {
    /// SHA-256 over a canonical encoding of the ops and public inputs: proving and verifying
    /// keys are cached under it, and a proof names the program it is for.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"zkfl-program-v1");
        h.update(self.num_vars.to_le_bytes());
        let var = |h: &mut Sha256, v: &Var| h.update(v.0.to_le_bytes());
        let coeff = |h: &mut Sha256, c: &Coeff| {
            h.update([c.is_negative() as u8]);
            for limb in c.magnitude() {
                h.update(limb.to_le_bytes());
            }
        };
        let lin = |h: &mut Sha256, l: &Lin| {
            h.update((l.terms.len() as u64).to_le_bytes());
            for (c, v) in &l.terms {
                coeff(h, c);
                var(h, v);
            }
            coeff(h, &l.constant);
        };
        for op in &self.ops {
            h.update(op.kind().as_bytes());
            match op {
                Op::Input { out, public } => {
                    var(&mut h, out);
                    h.update([*public as u8]);
                }
                Op::Linear { out, lin: l } => {
                    var(&mut h, out);
                    lin(&mut h, l);
                }
                Op::Mul { out, a, b } => [out, a, b].into_iter().for_each(|v| var(&mut h, v)),
                Op::Dot { out, a, b } => {
                    var(&mut h, out);
                    h.update((a.len() as u64).to_le_bytes());
                    a.iter().chain(b).for_each(|v| var(&mut h, v));
                }
                Op::AssertZero { lin: l } => lin(&mut h, l),
                Op::Range { v, bits } => {
                    var(&mut h, v);
                    h.update(bits.to_le_bytes());
                }
                Op::Bits { v, bits } => {
                    var(&mut h, v);
                    h.update((bits.len() as u64).to_le_bytes());
                    bits.iter().for_each(|b| var(&mut h, b));
                }
                Op::Permute { input, output } => {
                    input.iter().chain(output).for_each(|v| var(&mut h, v))
                }
            }
        }
        h.update((self.public.len() as u64).to_le_bytes());
        self.public.iter().for_each(|v| var(&mut h, v));
        h.finalize().into()
    }

    /// R1CS constraints by section: [`Op::r1cs_cost`] of every op, plus one for each linear op
    /// the R1CS back end materializes (see [`crate::linear_plan`]). This is exactly the number
    /// of constraints the R1CS compiler emits.
    pub fn cost(&self) -> Cost {
        let mut cost = Cost::default();
        let materialized = crate::linear_plan::materialized_linears(self);
        for ((op, section), extra) in self.ops.iter().zip(&self.op_section).zip(materialized) {
            let c = op.r1cs_cost() + extra as u64;
            *cost
                .by_section
                .entry(self.sections[*section as usize].to_string())
                .or_default() += c;
            cost.total += c;
        }
        cost
    }

    /// Checks every constraint natively; names the first that fails.
    pub fn check<F: Field>(&self, assignment: &Assignment<F>) -> Result<(), Unsatisfied> {
        let x = &assignment.values;
        if x.len() != self.num_vars as usize {
            return Err(Unsatisfied {
                op: 0,
                kind: "assignment length",
                section: "-",
            });
        }
        for (i, op) in self.ops.iter().enumerate() {
            let ok = match op {
                Op::Input { .. } => true,
                Op::Linear { out, lin } => x[out.index()] == lin.eval(x),
                Op::Mul { out, a, b } => x[out.index()] == x[a.index()] * x[b.index()],
                Op::Dot { out, a, b } => {
                    a.len() == b.len()
                        && x[out.index()]
                            == a.iter()
                                .zip(b)
                                .fold(F::zero(), |acc, (p, q)| acc + x[p.index()] * x[q.index()])
                }
                Op::AssertZero { lin } => lin.eval(x) == F::zero(),
                Op::Range { v, bits } => {
                    let v = x[v.index()];
                    (*bits as usize..256).all(|j| !v.bit(j))
                }
                Op::Bits { v, bits } => {
                    let boolean = bits
                        .iter()
                        .all(|b| x[b.index()] == F::zero() || x[b.index()] == F::one());
                    let sum = bits.iter().enumerate().fold(F::zero(), |acc, (j, b)| {
                        acc + F::from_coeff(Coeff::pow2(j as u32)) * x[b.index()]
                    });
                    boolean && sum == x[v.index()]
                }
                Op::Permute { input, output } => {
                    let mut state = input.map(|v| x[v.index()]);
                    F::permute(&mut state);
                    state == output.map(|v| x[v.index()])
                }
            };
            if !ok {
                return Err(Unsatisfied {
                    op: i,
                    kind: op.kind(),
                    section: self.sections[self.op_section[i] as usize],
                });
            }
        }
        Ok(())
    }
}

/// Records a relation as a [`Program`] while computing its [`Assignment`] in field `F`.
///
/// Methods mirror the ops; each returns the new variables with their values filled in.
/// [`Builder::section`] labels what follows for cost breakdowns.
pub struct Builder<F> {
    program: Program,
    values: Vec<F>,
    section: u16,
}

impl<F: Field> Default for Builder<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Field> Builder<F> {
    /// An empty program in section `"main"`.
    pub fn new() -> Self {
        Builder {
            program: Program {
                sections: vec!["main"],
                ..Program::default()
            },
            values: Vec::new(),
            section: 0,
        }
    }

    /// Labels the ops recorded from now on (e.g. `"macs"`, `"merkle"`).
    pub fn section(&mut self, name: &'static str) {
        let index = match self.program.sections.iter().position(|s| *s == name) {
            Some(i) => i,
            None => {
                self.program.sections.push(name);
                self.program.sections.len() - 1
            }
        };
        self.section = index as u16;
    }

    fn fresh(&mut self, value: F) -> Var {
        let v = Var(self.program.num_vars);
        self.program.num_vars += 1;
        self.values.push(value);
        v
    }

    fn record(&mut self, op: Op) {
        self.program.ops.push(op);
        self.program.op_section.push(self.section);
    }

    /// The value of a variable.
    pub fn value(&self, v: Var) -> F {
        self.values[v.index()]
    }

    /// The value of a variable as a signed integer (see [`Field::to_i128`]).
    pub fn int(&self, v: Var) -> Option<i128> {
        self.value(v).to_i128()
    }

    /// A private input (secret witness) or hint with the given value.
    pub fn private(&mut self, value: F) -> Var {
        let out = self.fresh(value);
        self.record(Op::Input { out, public: false });
        out
    }

    /// A public input with the given value; public inputs are numbered in creation order.
    pub fn public(&mut self, value: F) -> Var {
        let out = self.fresh(value);
        self.record(Op::Input { out, public: true });
        self.program.public.push(out);
        out
    }

    /// `constant + Σ coeff·var` as a new variable.
    pub fn linear(&mut self, terms: &[(Coeff, Var)], constant: Coeff) -> Var {
        let lin = Lin {
            terms: terms.to_vec(),
            constant,
        };
        let out = self.fresh(lin.eval(&self.values));
        self.record(Op::Linear { out, lin });
        out
    }

    /// A constant as a variable.
    pub fn constant(&mut self, c: Coeff) -> Var {
        self.linear(&[], c)
    }

    /// `a + b`.
    pub fn add(&mut self, a: Var, b: Var) -> Var {
        self.linear(&[(Coeff::ONE, a), (Coeff::ONE, b)], Coeff::ZERO)
    }

    /// `a - b`.
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        self.linear(&[(Coeff::ONE, a), (Coeff::ONE.negated(), b)], Coeff::ZERO)
    }

    /// `c · a`.
    pub fn scale(&mut self, c: Coeff, a: Var) -> Var {
        self.linear(&[(c, a)], Coeff::ZERO)
    }

    /// `a · b`.
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        let out = self.fresh(self.value(a) * self.value(b));
        self.record(Op::Mul { out, a, b });
        out
    }

    /// `Σ a[i]·b[i]`.
    ///
    /// # Panics
    /// If the slices differ in length or are empty (a relation bug, not bad input).
    pub fn dot(&mut self, a: &[Var], b: &[Var]) -> Var {
        assert!(
            a.len() == b.len() && !a.is_empty(),
            "dot of lengths {} and {}",
            a.len(),
            b.len()
        );
        let value = a.iter().zip(b).fold(F::zero(), |acc, (p, q)| {
            acc + self.value(*p) * self.value(*q)
        });
        let out = self.fresh(value);
        self.record(Op::Dot {
            out,
            a: a.to_vec(),
            b: b.to_vec(),
        });
        out
    }

    /// Constrains `constant + Σ coeff·var = 0`.
    pub fn assert_zero(&mut self, terms: &[(Coeff, Var)], constant: Coeff) {
        self.record(Op::AssertZero {
            lin: Lin {
                terms: terms.to_vec(),
                constant,
            },
        });
    }

    /// Constrains `a = b`.
    pub fn assert_eq(&mut self, a: Var, b: Var) {
        self.assert_zero(&[(Coeff::ONE, a), (Coeff::ONE.negated(), b)], Coeff::ZERO);
    }

    /// Constrains `0 <= v < 2^bits`.
    ///
    /// # Panics
    /// If `bits > 128`.
    pub fn range(&mut self, v: Var, bits: u32) {
        assert!(bits <= 128, "range checks are at most 128 bits");
        self.record(Op::Range { v, bits });
    }

    /// The `n` low bits of `v`, least significant first, constraining `v = Σ 2^i·bit_i`
    /// (so `0 <= v < 2^n`). A value out of range gets its low bits, and the program is then
    /// unsatisfied.
    pub fn bits(&mut self, v: Var, n: usize) -> Vec<Var> {
        let value = self.value(v);
        let bits: Vec<Var> = (0..n)
            .map(|i| {
                let b = if value.bit(i) { F::one() } else { F::zero() };
                self.fresh(b)
            })
            .collect();
        self.record(Op::Bits {
            v,
            bits: bits.clone(),
        });
        bits
    }

    /// The Poseidon permutation of a width-3 state.
    pub fn permute(&mut self, input: [Var; 3]) -> [Var; 3] {
        let mut state = input.map(|v| self.value(v));
        F::permute(&mut state);
        let output = state.map(|x| self.fresh(x));
        self.record(Op::Permute { input, output });
        output
    }

    /// The program and its assignment.
    pub fn finish(self) -> (Program, Assignment<F>) {
        (
            self.program,
            Assignment {
                values: self.values,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Bn254;

    fn sample() -> (Program, Assignment<Bn254>) {
        let mut b = Builder::<Bn254>::new();
        let x = b.private(Bn254::from_i128(6));
        let y = b.private(Bn254::from_i128(-7));
        b.section("products");
        let p = b.mul(x, y);
        let d = b.dot(&[x, y], &[y, x]);
        let out = b.public(Bn254::from_i128(-42));
        b.assert_eq(p, out);
        let twice = b.scale(Coeff::from(2i128), p);
        b.assert_eq(twice, d);
        let shifted = b.linear(&[(Coeff::ONE, x)], Coeff::from(10i128));
        b.bits(shifted, 5);
        b.range(shifted, 5);
        b.permute([x, y, p]);
        b.finish()
    }

    #[test]
    fn honest_assignment_satisfies() {
        let (program, assignment) = sample();
        program.check(&assignment).unwrap();
        assert_eq!(
            assignment.public_inputs(&program),
            vec![Bn254::from_i128(-42)]
        );
        let cost = program.cost();
        assert_eq!(cost.by_section["main"], 0);
        assert_eq!(cost.total, 1 + 2 + 1 + 1 + 6 + 6 + PERMUTE_R1CS);
    }

    #[test]
    fn any_changed_value_is_caught() {
        let (program, assignment) = sample();
        for i in 0..assignment.values.len() {
            let mut bad = assignment.clone();
            bad.values[i] += Bn254::one();
            assert!(
                program.check(&bad).is_err(),
                "variable {i} changed unnoticed"
            );
        }
    }

    #[test]
    fn range_rejects_out_of_range_and_negative() {
        let mut b = Builder::<Bn254>::new();
        let v = b.private(Bn254::from_i128(16));
        b.range(v, 4);
        let (program, assignment) = b.finish();
        assert_eq!(program.check(&assignment).unwrap_err().kind, "range");
        let mut b = Builder::<Bn254>::new();
        let v = b.private(Bn254::from_i128(-1));
        b.bits(v, 8);
        let (program, assignment) = b.finish();
        assert_eq!(program.check(&assignment).unwrap_err().kind, "bits");
    }

    #[test]
    fn digest_depends_on_shape_not_values() {
        let (p1, _) = sample();
        let mut b = Builder::<Bn254>::new();
        let x = b.private(Bn254::from_i128(1));
        let y = b.private(Bn254::from_i128(2));
        b.mul(x, y);
        let (p2, _) = b.finish();
        let mut b = Builder::<Bn254>::new();
        let x = b.private(Bn254::from_i128(100));
        let y = b.private(Bn254::from_i128(200));
        b.mul(x, y);
        let (p3, _) = b.finish();
        assert_ne!(p1.digest(), p2.digest());
        assert_eq!(p2.digest(), p3.digest());
    }
}
