//! The compiler: a [`Program`] as arkworks R1CS over BN254's scalar field.

use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use super::permute::permute;
use super::shape::{for_each_output, for_each_read, validate};
use super::wire::{R1cs, Synth, Wire};
use crate::field::{Coeff, Field};
use crate::linear_plan::materialized_linears;
use crate::program::{Assignment, Op, Program, Var};

/// A program as an arkworks circuit, with or without its witness.
///
/// Without an assignment it yields the constraint shape only (key generation); with one it also
/// assigns every variable. Synthesis fails with `Unsatisfiable` if the program is malformed
/// (see [`super::validate`]) and with `AssignmentMissing` if the assignment has the wrong
/// length; it does not check that the assignment satisfies the program (use
/// [`Program::check`], as [`super::prove`] does).
#[derive(Clone, Copy, Debug)]
pub struct ProgramCircuit<'a> {
    /// The constraints' shape.
    pub program: &'a Program,
    /// The witness, when proving.
    pub assignment: Option<&'a Assignment<Fr>>,
}

impl ConstraintSynthesizer<Fr> for ProgramCircuit<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        validate(self.program).map_err(|_| SynthesisError::Unsatisfiable)?;
        let values = match self.assignment {
            Some(a) if a.values.len() != self.program.num_vars as usize => {
                return Err(SynthesisError::AssignmentMissing);
            }
            Some(a) => Some(a.values.as_slice()),
            None => None,
        };
        Compiler::new(cs, self.program, values).run()
    }
}

/// State of one compilation: the wire of every live program variable.
struct Compiler<'a> {
    r: R1cs,
    program: &'a Program,
    values: Option<&'a [Fr]>,
    wires: Vec<Option<Wire>>,
    /// For each variable, the index of the last op reading it (its wire is dropped after).
    last_read: Vec<usize>,
    pow2: Vec<Fr>,
}

impl<'a> Compiler<'a> {
    fn new(cs: ConstraintSystemRef<Fr>, program: &'a Program, values: Option<&'a [Fr]>) -> Self {
        let n = program.num_vars as usize;
        let mut last_read = vec![0usize; n];
        for (i, op) in program.ops.iter().enumerate() {
            for_each_read(op, |v| last_read[v.index()] = i);
        }
        let mut pow2 = Vec::with_capacity(256);
        let mut p = Fr::from(1u8);
        for _ in 0..256 {
            pow2.push(p);
            p = p + p;
        }
        Compiler {
            r: R1cs {
                cs,
                proving: values.is_some(),
            },
            program,
            values,
            wires: vec![None; n],
            last_read,
            pow2,
        }
    }

    /// The assignment's value of `v` (when proving).
    fn value(&self, v: Var) -> Option<Fr> {
        self.values.map(|x| x[v.index()])
    }

    /// The wire of a variable the validated program defined earlier.
    fn wire(&self, v: Var) -> &Wire {
        self.wires[v.index()]
            .as_ref()
            .expect("validated programs read only variables defined (and live) before")
    }

    fn set(&mut self, v: Var, w: Wire) {
        self.wires[v.index()] = Some(w);
    }

    /// A fresh witness variable carrying the assignment's value of `v`.
    fn carried(&mut self, v: Var) -> Synth<Wire> {
        let w = self.r.witness(self.value(v))?;
        self.set(v, w.clone());
        Ok(w)
    }

    fn linear(&self, terms: &[(Coeff, Var)], constant: Coeff) -> Wire {
        Wire::combine(
            terms
                .iter()
                .map(|(c, v)| (Fr::from_coeff(*c), self.wire(*v))),
            Fr::from_coeff(constant),
            self.r.proving,
        )
    }

    /// `Σ 2^i · bits[i] = v` (one constraint).
    fn enforce_sum_of_bits(&self, bits: &[Wire], v: &Wire) -> Synth<()> {
        let sum = Wire::combine(
            bits.iter().zip(&self.pow2).map(|(b, p)| (*p, b)),
            Fr::from(0u8),
            self.r.proving,
        );
        self.r.enforce(&sum, &self.r.one(), v)
    }

    fn run(mut self) -> Synth<()> {
        let program = self.program;
        for v in &program.public {
            let inst = self
                .r
                .cs
                .new_input_variable(|| self.value(*v).ok_or(SynthesisError::AssignmentMissing))?;
            self.set(*v, Wire::var(inst, self.value(*v)));
        }
        let materialized = materialized_linears(program);
        for (i, op) in program.ops.iter().enumerate() {
            self.op(op, materialized[i])?;
            let (wires, last_read) = (&mut self.wires, &self.last_read);
            for_each_read(op, |v| {
                if last_read[v.index()] == i {
                    wires[v.index()] = None;
                }
            });
            // Outputs nothing reads are dropped at once.
            for_each_output(op, |v| {
                if last_read[v.index()] <= i {
                    wires[v.index()] = None;
                }
            });
        }
        Ok(())
    }

    fn op(&mut self, op: &Op, materialize: bool) -> Synth<()> {
        match op {
            Op::Input { public: true, .. } => {}
            Op::Input { out, public: false } => {
                self.carried(*out)?;
            }
            Op::Linear { out, lin } => {
                let sum = self.linear(&lin.terms, lin.constant);
                let w = if materialize {
                    let w = self.r.witness(sum.value())?;
                    self.r.enforce(&sum, &self.r.one(), &w)?;
                    w
                } else {
                    sum
                };
                self.set(*out, w);
            }
            Op::Mul { out, a, b } => {
                let w = self.carried(*out)?;
                self.r.enforce(self.wire(*a), self.wire(*b), &w)?;
            }
            Op::Dot { out, a, b } => {
                let n = a.len();
                let mut partial = Vec::with_capacity(n - 1);
                for (p, q) in a.iter().zip(b).take(n - 1) {
                    partial.push(self.r.mul(self.wire(*p), self.wire(*q))?);
                }
                let w = self.carried(*out)?;
                let rest = Wire::combine(
                    std::iter::once((Fr::from(1u8), &w))
                        .chain(partial.iter().map(|p| (-Fr::from(1u8), p))),
                    Fr::from(0u8),
                    self.r.proving,
                );
                self.r
                    .enforce(self.wire(a[n - 1]), self.wire(b[n - 1]), &rest)?;
            }
            Op::AssertZero { lin } => {
                let sum = self.linear(&lin.terms, lin.constant);
                self.r.enforce_zero(&sum)?;
            }
            Op::Range { v, bits } => {
                let x = self.wire(*v).value();
                let bits = (0..*bits as usize)
                    .map(|j| {
                        let bit = x.map(|x| Fr::from(u8::from(x.bit(j))));
                        let b = self.r.witness(bit)?;
                        self.r.enforce_boolean(&b)?;
                        Ok(b)
                    })
                    .collect::<Synth<Vec<_>>>()?;
                self.enforce_sum_of_bits(&bits, self.wire(*v))?;
            }
            Op::Bits { v, bits } => {
                let mut wires = Vec::with_capacity(bits.len());
                for b in bits {
                    let w = self.carried(*b)?;
                    self.r.enforce_boolean(&w)?;
                    wires.push(w);
                }
                self.enforce_sum_of_bits(&wires, self.wire(*v))?;
            }
            Op::Permute { input, output } => {
                let state = input.map(|v| self.wire(v).clone());
                let after = permute(&self.r, state)?;
                for (v, w) in output.iter().zip(after) {
                    self.set(*v, w);
                }
            }
        }
        Ok(())
    }
}
