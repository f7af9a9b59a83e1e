//! What the compiler assumes of a program, and the sizes of the R1CS it makes.

use thiserror::Error;

use crate::linear_plan::materialized_linears;
use crate::program::{Op, PERMUTE_R1CS, Program, Var};

/// Why a program cannot be compiled (a bug in whatever built it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed program at op {op}: {reason}")]
pub struct MalformedProgram {
    /// Index of the offending op (or of the public input, for `public` errors).
    pub op: usize,
    /// What is wrong.
    pub reason: &'static str,
}

/// Calls `f` on every variable `op` reads.
pub(crate) fn for_each_read(op: &Op, mut f: impl FnMut(Var)) {
    match op {
        Op::Input { .. } => {}
        Op::Linear { lin, .. } | Op::AssertZero { lin } => lin.terms.iter().for_each(|t| f(t.1)),
        Op::Mul { a, b, .. } => {
            f(*a);
            f(*b);
        }
        Op::Dot { a, b, .. } => a.iter().chain(b).for_each(|v| f(*v)),
        Op::Range { v, .. } | Op::Bits { v, .. } => f(*v),
        Op::Permute { input, .. } => input.iter().for_each(|v| f(*v)),
    }
}

/// Calls `f` on every variable `op` defines.
pub(crate) fn for_each_output(op: &Op, mut f: impl FnMut(Var)) {
    match op {
        Op::Input { out, .. }
        | Op::Linear { out, .. }
        | Op::Mul { out, .. }
        | Op::Dot { out, .. } => f(*out),
        Op::AssertZero { .. } | Op::Range { .. } => {}
        Op::Bits { bits, .. } => bits.iter().for_each(|v| f(*v)),
        Op::Permute { output, .. } => output.iter().for_each(|v| f(*v)),
    }
}

/// Checks what the compiler relies on: every variable is below `num_vars` and defined once,
/// before it is read; dot products have matching non-empty sides; widths fit 256 bits; every
/// op has a section; the public list names each public input exactly once.
pub fn validate(program: &Program) -> Result<(), MalformedProgram> {
    let bad = |op, reason| Err(MalformedProgram { op, reason });
    let n = program.num_vars as usize;
    if program.op_section.len() != program.ops.len() {
        return bad(0, "op_section and ops differ in length");
    }
    let mut defined = vec![false; n];
    let mut is_public_input = vec![false; n];
    for (i, op) in program.ops.iter().enumerate() {
        if program.op_section[i] as usize >= program.sections.len() {
            return bad(i, "section index out of range");
        }
        let mut ok = true;
        for_each_read(op, |v| {
            ok &= defined.get(v.index()).copied().unwrap_or(false)
        });
        if !ok {
            return bad(i, "reads a variable that is not defined before it");
        }
        match op {
            Op::Dot { a, b, .. } if a.len() != b.len() || a.is_empty() => {
                return bad(i, "dot product sides differ in length or are empty");
            }
            Op::Range { bits, .. } if *bits > 256 => return bad(i, "range wider than 256 bits"),
            Op::Bits { bits, .. } if bits.len() > 256 => {
                return bad(i, "decomposition wider than 256 bits");
            }
            Op::Input { out, public: true } => {
                if let Some(p) = is_public_input.get_mut(out.index()) {
                    *p = true;
                }
            }
            _ => {}
        }
        let mut fresh = true;
        for_each_output(op, |v| match defined.get_mut(v.index()) {
            Some(d) if !*d => *d = true,
            _ => fresh = false,
        });
        if !fresh {
            return bad(i, "defines a variable out of range or twice");
        }
    }
    let mut listed = vec![false; n];
    for (k, v) in program.public.iter().enumerate() {
        match listed.get_mut(v.index()) {
            Some(l) if !*l && is_public_input[v.index()] => *l = true,
            _ => {
                return bad(
                    k,
                    "public list names a variable that is not a public input, or twice",
                );
            }
        }
    }
    if listed != is_public_input {
        return bad(0, "a public input is missing from the public list");
    }
    Ok(())
}

/// Sizes of the R1CS a program compiles to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct R1csShape {
    /// Instance variables, counting the constant one first.
    pub instances: usize,
    /// Witness variables (private inputs, products, bits, S-box wires, materialized sums).
    pub witnesses: usize,
    /// Constraints (equals `Program::cost().total`).
    pub constraints: usize,
}

impl R1csShape {
    /// The points of the Groth16 QAP domain: constraints plus instance variables, rounded up to
    /// a power of two (what a Lagrange basis of the multi-party setup must be made for).
    pub fn domain_size(&self) -> usize {
        (self.constraints + self.instances).next_power_of_two()
    }
}

/// The sizes of `program`'s R1CS, without building it.
pub fn shape(program: &Program) -> R1csShape {
    let materialized = materialized_linears(program);
    let mut witnesses = 0usize;
    for (op, m) in program.ops.iter().zip(materialized) {
        witnesses += match op {
            Op::Input { public, .. } => usize::from(!public),
            Op::Linear { .. } => usize::from(m),
            Op::Mul { .. } => 1,
            Op::Dot { a, .. } => a.len(),
            Op::AssertZero { .. } => 0,
            Op::Range { bits, .. } => *bits as usize,
            Op::Bits { bits, .. } => bits.len(),
            Op::Permute { .. } => PERMUTE_R1CS as usize,
        };
    }
    R1csShape {
        instances: program.public.len() + 1,
        witnesses,
        constraints: program.cost().total as usize,
    }
}
