//! Where every op of a [`Program`] goes: the rows of the arithmetic lanes, the byte limbs of
//! range checks, the Poseidon permutations, and (given an assignment) every cell's value.
//!
//! A lane is three advice columns `a, b, c` under one gate,
//! `qa·a + qb·b + qc·c + qm·a·b + qk + qn·c_next = 0`, with fixed coefficients per row. An op is
//! a *chain* of rows: row `j` adds its terms to a running sum in `c` (`qc = 1` except on the first
//! row, `qn = -1`), and the result lands in `c` of the row after the chain. The first row of every
//! chain leaves its own `c` alone, so that cell carries the previous op's result: one op of `n`
//! rows advances its lane by `n` rows.
//!
//! - `Linear` (`t` terms): `⌈t/2⌉` rows (at least one), two terms per row.
//! - `Mul`: one row (`qm = 1`). `Dot` (`n` pairs): `n` rows, one product per row.
//! - `AssertZero`: like `Linear`, but the last row has `qn = 0`, so the sum itself must vanish.
//! - `Bits` (`n` bits): `⌈n/2⌉` rows, two bits per row in `a, b` (both under the booleanity
//!   gate), summing `Σ 2^i·bit_i` into a copy of `v`.
//! - `Range` (`bits` wide, lane 0 only): `m = ⌈bits/8⌉` byte limbs summed as `Σ 256^i·limb_i` into
//!   a copy of `v`; every limb cell is looked up in the byte table, and when `bits` is not a
//!   multiple of 8 the top limb appears once more with lookup scale `2^(8 - r)` (`r` = bits of
//!   the top limb), which bounds it by `2^r`.
//! - `Input`: no rows; a variable lives in the cells that use it, all tied by copy constraints.
//!   Public inputs and Poseidon words that no op of the lanes uses get a parking cell (two per
//!   row), so every variable the circuit mentions has a lane cell.
//! - `Permute`: a region of `halo2_gadgets`' `Pow5Chip` on its own columns, beside the lanes.

use ff::{Field as _, PrimeField};

use super::Halo2Error;
use super::field::Fp;
use crate::field::Field;
use crate::program::{Assignment, Lin, Op, Program, Var};

/// Arithmetic lanes side by side.
pub(crate) const LANES: usize = 2;
/// The lane whose `a` and `b` cells are looked up in the byte table.
pub(crate) const RANGE_LANE: usize = 0;
/// Rows one `Pow5Chip` permutation takes (4 + 28 + 4 round rows and the final state).
pub(crate) const PERMUTE_ROWS: usize = 37;
/// Bits per range-check limb (the lookup table has `2^LIMB_BITS` rows).
pub(crate) const LIMB_BITS: u32 = 8;
/// The widest range check that stays sound: the limbs' sum must not wrap around the prime.
pub(crate) const MAX_RANGE_BITS: u32 = 253;

/// What a lane cell holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    /// Zero (an unused cell).
    Zero,
    /// A wire: a program variable (`< num_vars`) or a range-check limb (see [`Layout::limbs`]).
    Wire(u32),
    /// The running sum the previous row's gate defines.
    Acc,
}

/// The fixed coefficients of one lane row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Coeffs {
    pub qa: Fp,
    pub qb: Fp,
    pub qc: Fp,
    pub qm: Fp,
    pub qk: Fp,
    pub qn: Fp,
    /// Lookup scales of `a` and `b` (range lane only; zero looks up 0).
    pub scale: [Fp; 2],
    /// Whether `a` and `b` must be boolean.
    pub boolean: bool,
}

impl Coeffs {
    const ZERO: Coeffs = Coeffs {
        qa: Fp::ZERO,
        qb: Fp::ZERO,
        qc: Fp::ZERO,
        qm: Fp::ZERO,
        qk: Fp::ZERO,
        qn: Fp::ZERO,
        scale: [Fp::ZERO; 2],
        boolean: false,
    };
}

/// One row of one lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    /// Cells `a, b, c`.
    pub cells: [Src; 3],
    /// The gate's coefficients on this row.
    pub q: Coeffs,
}

const EMPTY_ROW: Row = Row {
    cells: [Src::Zero; 3],
    q: Coeffs::ZERO,
};

/// One term of a chain: a cell for `a` or `b`, its coefficient in the sum and its lookup scale.
#[derive(Clone, Copy)]
struct Term {
    src: Src,
    coeff: Fp,
    scale: Fp,
}

/// A cell that takes no part in the sum.
const UNUSED: Term = Term {
    src: Src::Zero,
    coeff: Fp::ZERO,
    scale: Fp::ZERO,
};

/// The shape of a program in the halo2 circuit; it depends on the program only.
#[derive(Clone, Debug)]
pub struct Layout {
    pub(crate) lanes: [Vec<Row>; LANES],
    pub(crate) num_vars: u32,
    /// Wire `num_vars + i` is byte `limbs[i].1` of variable `limbs[i].0`.
    pub(crate) limbs: Vec<(Var, u32)>,
    /// `(input, output)` of every permutation, in program order.
    pub(crate) permutes: Vec<([Var; 3], [Var; 3])>,
    pub(crate) public: Vec<Var>,
    pub(crate) digest: [u8; 32],
}

/// Cell values of the lanes: `values[lane][row] = [a, b, c]`.
pub(crate) type CellValues = [Vec<[Fp; 3]>; LANES];

struct Planner {
    lanes: [Vec<Row>; LANES],
    num_vars: u32,
    limbs: Vec<(Var, u32)>,
    in_lanes: Vec<bool>,
}

impl Planner {
    /// Appends a chain to a lane: `rows` of `(a, b, qm, qk, boolean)`, the result (if any) in
    /// `c` of the row after.
    fn chain(&mut self, lane: usize, rows: &[(Term, Term, Fp, Fp, bool)], result: Option<Src>) {
        let rows_vec = &mut self.lanes[lane];
        let start = rows_vec.len() - 1;
        for (j, (a, b, qm, qk, boolean)) in rows.iter().enumerate() {
            let continues = j + 1 < rows.len() || result.is_some();
            let row = &mut rows_vec[start + j];
            row.cells[0] = a.src;
            row.cells[1] = b.src;
            row.q = Coeffs {
                qa: a.coeff,
                qb: b.coeff,
                qc: if j > 0 { Fp::ONE } else { Fp::ZERO },
                qm: *qm,
                qk: *qk,
                qn: if continues { -Fp::ONE } else { Fp::ZERO },
                scale: [a.scale, b.scale],
                boolean: *boolean,
            };
            let mut next = EMPTY_ROW;
            if continues {
                next.cells[2] = Src::Acc;
            }
            rows_vec.push(next);
        }
        if let Some(res) = result {
            let last = rows_vec.len() - 1;
            rows_vec[last].cells[2] = res;
        }
        for src in rows
            .iter()
            .flat_map(|(a, b, ..)| [a.src, b.src])
            .chain(result)
        {
            if let Src::Wire(w) = src
                && w < self.num_vars
            {
                self.in_lanes[w as usize] = true;
            }
        }
    }

    /// The shorter arithmetic lane.
    fn free_lane(&self) -> usize {
        (0..LANES)
            .min_by_key(|l| self.lanes[*l].len())
            .expect("at least one lane")
    }

    /// A chain summing `terms` two per row, plus `constant` on the first row.
    fn sum(
        &mut self,
        lane: usize,
        terms: &[Term],
        constant: Fp,
        boolean: bool,
        result: Option<Src>,
    ) {
        let zero = UNUSED;
        let mut rows: Vec<_> = terms
            .chunks(2)
            .map(|p| {
                (
                    p[0],
                    p.get(1).copied().unwrap_or(zero),
                    Fp::ZERO,
                    Fp::ZERO,
                    boolean,
                )
            })
            .collect();
        if rows.is_empty() {
            rows.push((zero, zero, Fp::ZERO, Fp::ZERO, boolean));
        }
        rows[0].3 = constant;
        self.chain(lane, &rows, result);
    }

    fn lin_terms(lin: &Lin) -> Vec<Term> {
        lin.terms
            .iter()
            .map(|(c, v)| Term {
                src: Src::Wire(v.0),
                coeff: Fp::from_coeff(*c),
                scale: Fp::ZERO,
            })
            .collect()
    }

    fn range(&mut self, v: Var, bits: u32) {
        let m = bits.div_ceil(LIMB_BITS);
        let mut terms: Vec<Term> = (0..m)
            .map(|i| {
                self.limbs.push((v, i));
                Term {
                    src: Src::Wire(self.num_vars + self.limbs.len() as u32 - 1),
                    coeff: Fp::from(2).pow_vartime([(LIMB_BITS * i) as u64]),
                    scale: Fp::ONE,
                }
            })
            .collect();
        let top_bits = bits - LIMB_BITS * m.saturating_sub(1);
        if let Some(top) = terms.last().copied()
            && top_bits < LIMB_BITS
        {
            terms.push(Term {
                coeff: Fp::ZERO,
                scale: Fp::from(1u64 << (LIMB_BITS - top_bits)),
                ..top
            });
        }
        self.must_vanish_or_sum(RANGE_LANE, v, &terms, false);
    }

    /// `Σ terms = v`, or `v = 0` when there are no terms.
    fn must_vanish_or_sum(&mut self, lane: usize, v: Var, terms: &[Term], boolean: bool) {
        if terms.is_empty() {
            let term = Term {
                src: Src::Wire(v.0),
                coeff: Fp::ONE,
                scale: Fp::ZERO,
            };
            self.sum(lane, &[term], Fp::ZERO, false, None);
        } else {
            self.sum(lane, terms, Fp::ZERO, boolean, Some(Src::Wire(v.0)));
        }
    }
}

impl Layout {
    /// Lays out a program; fails on ops no circuit can express (out-of-range variables,
    /// mismatched dot products, range checks wider than 253 bits).
    pub fn new(program: &Program) -> Result<Layout, Halo2Error> {
        let num_vars = program.num_vars;
        let mut planner = Planner {
            lanes: std::array::from_fn(|_| vec![EMPTY_ROW]),
            num_vars,
            limbs: Vec::new(),
            in_lanes: vec![false; num_vars as usize],
        };
        let mut permutes = Vec::new();
        for (i, op) in program.ops.iter().enumerate() {
            let bad = |reason: &str| Halo2Error::Unsupported {
                op: i,
                kind: op.kind(),
                reason: reason.to_string(),
            };
            if op_vars(op).any(|v| v.0 >= num_vars) {
                return Err(bad("variable out of range"));
            }
            match op {
                Op::Input { .. } => {}
                Op::Linear { out, lin } => {
                    let lane = planner.free_lane();
                    let terms = Planner::lin_terms(lin);
                    let constant = Fp::from_coeff(lin.constant);
                    planner.sum(lane, &terms, constant, false, Some(Src::Wire(out.0)));
                }
                Op::AssertZero { lin } => {
                    let lane = planner.free_lane();
                    let terms = Planner::lin_terms(lin);
                    planner.sum(lane, &terms, Fp::from_coeff(lin.constant), false, None);
                }
                Op::Mul { out, a, b } => {
                    let lane = planner.free_lane();
                    let row = (
                        wire(*a, Fp::ZERO),
                        wire(*b, Fp::ZERO),
                        Fp::ONE,
                        Fp::ZERO,
                        false,
                    );
                    planner.chain(lane, &[row], Some(Src::Wire(out.0)));
                }
                Op::Dot { out, a, b } => {
                    if a.len() != b.len() {
                        return Err(bad("factor lists differ in length"));
                    }
                    let lane = planner.free_lane();
                    let mut rows: Vec<_> = a
                        .iter()
                        .zip(b)
                        .map(|(x, y)| {
                            (
                                wire(*x, Fp::ZERO),
                                wire(*y, Fp::ZERO),
                                Fp::ONE,
                                Fp::ZERO,
                                false,
                            )
                        })
                        .collect();
                    if rows.is_empty() {
                        rows.push((UNUSED, UNUSED, Fp::ZERO, Fp::ZERO, false));
                    }
                    planner.chain(lane, &rows, Some(Src::Wire(out.0)));
                }
                Op::Range { v, bits } => {
                    if *bits > MAX_RANGE_BITS {
                        return Err(bad("range checks are at most 253 bits wide"));
                    }
                    planner.range(*v, *bits);
                }
                Op::Bits { v, bits } => {
                    let lane = planner.free_lane();
                    let terms: Vec<Term> = bits
                        .iter()
                        .enumerate()
                        .map(|(i, b)| wire(*b, Fp::from(2).pow_vartime([i as u64])))
                        .collect();
                    planner.must_vanish_or_sum(lane, *v, &terms, true);
                }
                Op::Permute { input, output } => permutes.push((*input, *output)),
            }
        }
        if program.public.iter().any(|v| v.0 >= num_vars) {
            return Err(Halo2Error::Unsupported {
                op: program.ops.len(),
                kind: "public",
                reason: "public variable out of range".to_string(),
            });
        }
        // Park the variables that need a lane cell but have none: public inputs (for the
        // instance column) and every Poseidon word (so the chip's cells are tied to the
        // assignment's values even when no other op reads them).
        let mut park: Vec<Var> = program.public.clone();
        for (input, output) in &permutes {
            park.extend(input.iter().chain(output));
        }
        park.retain(|v| !planner.in_lanes[v.index()]);
        park.sort();
        park.dedup();
        for pair in park.chunks(2) {
            let lane = planner.free_lane();
            let unused = |v: Option<&Var>| match v {
                Some(v) => wire(*v, Fp::ZERO),
                None => UNUSED,
            };
            let row = (
                unused(pair.first()),
                unused(pair.get(1)),
                Fp::ZERO,
                Fp::ZERO,
                false,
            );
            planner.chain(lane, &[row], None);
        }
        Ok(Layout {
            lanes: planner.lanes,
            num_vars,
            limbs: planner.limbs,
            permutes,
            public: program.public.clone(),
            digest: program.digest(),
        })
    }

    /// Rows the lanes use.
    pub fn lane_rows(&self) -> usize {
        self.lanes.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Rows the circuit uses: the lanes, the permutations beside them, and the byte table.
    pub fn rows(&self) -> usize {
        self.lane_rows()
            .max(PERMUTE_ROWS * self.permutes.len())
            .max(1 << LIMB_BITS)
    }

    /// Number of Poseidon permutations.
    pub fn permutations(&self) -> usize {
        self.permutes.len()
    }

    /// The digest of the program this layout is for ([`Program::digest`]).
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// Every lane cell's value under an assignment (which must have `num_vars` values).
    pub(crate) fn cell_values(&self, assignment: &Assignment<Fp>) -> CellValues {
        let values = &assignment.values;
        let wire = |w: u32| -> Fp {
            if w < self.num_vars {
                values[w as usize]
            } else {
                let (v, i) = self.limbs[(w - self.num_vars) as usize];
                Fp::from(values[v.index()].to_repr()[i as usize] as u64)
            }
        };
        std::array::from_fn(|lane| {
            let rows = &self.lanes[lane];
            let mut out: Vec<[Fp; 3]> = Vec::with_capacity(rows.len());
            for row in rows {
                let cell = |src: Src, out: &Vec<[Fp; 3]>| match src {
                    Src::Zero => Fp::ZERO,
                    Src::Wire(w) => wire(w),
                    Src::Acc => {
                        let [a, b, c] = *out.last().expect("an accumulator follows a row");
                        let q = rows[out.len() - 1].q;
                        q.qa * a + q.qb * b + q.qc * c + q.qm * a * b + q.qk
                    }
                };
                let cells = row.cells.map(|src| cell(src, &out));
                out.push(cells);
            }
            out
        })
    }
}

fn wire(v: Var, coeff: Fp) -> Term {
    Term {
        src: Src::Wire(v.0),
        coeff,
        scale: Fp::ZERO,
    }
}

/// Every variable an op mentions.
fn op_vars(op: &Op) -> Box<dyn Iterator<Item = Var> + '_> {
    let lin_vars = |lin: &'_ Lin| lin.terms.iter().map(|(_, v)| *v).collect::<Vec<_>>();
    match op {
        Op::Input { out, .. } => Box::new(std::iter::once(*out)),
        Op::Linear { out, lin } => Box::new(std::iter::once(*out).chain(lin_vars(lin))),
        Op::Mul { out, a, b } => Box::new([*out, *a, *b].into_iter()),
        Op::Dot { out, a, b } => Box::new(std::iter::once(*out).chain(a.iter().chain(b).copied())),
        Op::AssertZero { lin } => Box::new(lin_vars(lin).into_iter()),
        Op::Range { v, .. } => Box::new(std::iter::once(*v)),
        Op::Bits { v, bits } => Box::new(std::iter::once(*v).chain(bits.iter().copied())),
        Op::Permute { input, output } => Box::new(input.iter().chain(output).copied()),
    }
}
