//! [`ProgramCircuit`]: a [`Layout`] as a halo2 `Circuit<Fp>`.
//!
//! Columns: per lane three advice columns (equality on) and six fixed coefficient columns, a
//! booleanity selector; on the range lane two fixed lookup-scale columns and the byte table;
//! `Pow5Chip`'s three state, one partial S-box, six round-constant columns; one instance column.

use ff::Field as _;
use halo2_gadgets::poseidon::{PoseidonInstructions, Pow5Chip, Pow5Config, StateWord};
use halo2_poseidon::P128Pow5T3;
use halo2_proofs::circuit::{AssignedCell, Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{
    Advice, Circuit, Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Instance,
    Selector, TableColumn,
};
use halo2_proofs::poly::Rotation;

use super::field::Fp;
use super::layout::{CellValues, LANES, LIMB_BITS, Layout, RANGE_LANE, Src};
use crate::program::Assignment;

/// The columns of one arithmetic lane.
#[derive(Clone, Debug)]
pub struct LaneConfig {
    advice: [Column<Advice>; 3],
    /// `qa, qb, qc, qm, qk, qn`.
    coeffs: [Column<Fixed>; 6],
    boolean: Selector,
    /// Lookup scales of `a` and `b`, on the range lane only.
    scale: Option<[Column<Fixed>; 2]>,
}

/// The circuit's columns, gates and chips; the same for every program.
#[derive(Clone, Debug)]
pub struct ProgramConfig {
    lanes: [LaneConfig; LANES],
    byte_table: TableColumn,
    poseidon: Pow5Config<Fp, 3, 2>,
    instance: Column<Instance>,
}

/// A program's circuit: its layout and, for proving, the lanes' cell values and the variables'
/// values.
#[derive(Debug)]
pub struct ProgramCircuit<'a> {
    layout: &'a Layout,
    /// The lanes' cell values when proving; the chip computes the permutations' own cells.
    cells: Option<CellValues>,
}

impl<'a> ProgramCircuit<'a> {
    /// The circuit of `layout`, with the values of `assignment` if given.
    ///
    /// # Panics
    /// If the assignment has fewer values than the program has variables (check the assignment
    /// with [`crate::program::Program::check`] first).
    pub fn new(layout: &'a Layout, assignment: Option<&Assignment<Fp>>) -> Self {
        let cells = assignment.map(|assignment| {
            assert_eq!(
                assignment.values.len(),
                layout.num_vars as usize,
                "one value per program variable"
            );
            layout.cell_values(assignment)
        });
        ProgramCircuit { layout, cells }
    }
}

fn configure_lane(meta: &mut ConstraintSystem<Fp>, lookups: Option<TableColumn>) -> LaneConfig {
    let advice = [(); 3].map(|_| meta.advice_column());
    advice.iter().for_each(|c| meta.enable_equality(*c));
    let coeffs = [(); 6].map(|_| meta.fixed_column());
    let boolean = meta.selector();
    meta.create_gate("lane arithmetic", |meta| {
        let [a, b, c] = advice.map(|col| meta.query_advice(col, Rotation::cur()));
        let c_next = meta.query_advice(advice[2], Rotation::next());
        let [qa, qb, qc, qm, qk, qn] = coeffs.map(|col| meta.query_fixed(col));
        vec![qa * a.clone() + qb * b.clone() + qc * c + qm * a * b + qk + qn * c_next]
    });
    meta.create_gate("lane booleans", |meta| {
        let s = meta.query_selector(boolean);
        let [a, b] = [advice[0], advice[1]].map(|col| meta.query_advice(col, Rotation::cur()));
        let one = Expression::Constant(Fp::ONE);
        Constraints::with_selector(s, [a.clone() * (a - one.clone()), b.clone() * (b - one)])
    });
    let scale = lookups.map(|table| {
        let scale = [(); 2].map(|_| meta.fixed_column());
        for (col, s) in advice.iter().zip(scale) {
            meta.lookup(|meta| {
                let x = meta.query_advice(*col, Rotation::cur());
                let s = meta.query_fixed(s);
                vec![(s * x, table)]
            });
        }
        scale
    });
    LaneConfig {
        advice,
        coeffs,
        boolean,
        scale,
    }
}

impl Circuit<Fp> for ProgramCircuit<'_> {
    type Config = ProgramConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        ProgramCircuit {
            layout: self.layout,
            cells: None,
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> ProgramConfig {
        let byte_table = meta.lookup_table_column();
        let lanes = std::array::from_fn(|lane| {
            configure_lane(meta, (lane == RANGE_LANE).then_some(byte_table))
        });
        let state = [(); 3].map(|_| meta.advice_column());
        let partial_sbox = meta.advice_column();
        let rc_a = [(); 3].map(|_| meta.fixed_column());
        let rc_b = [(); 3].map(|_| meta.fixed_column());
        let poseidon = Pow5Chip::configure::<P128Pow5T3>(meta, state, partial_sbox, rc_a, rc_b);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        ProgramConfig {
            lanes,
            byte_table,
            poseidon,
            instance,
        }
    }

    fn synthesize(
        &self,
        config: ProgramConfig,
        mut layouter: impl Layouter<Fp>,
    ) -> Result<(), Error> {
        layouter.assign_table(
            || "bytes",
            |mut table| {
                for i in 0..1usize << LIMB_BITS {
                    let value = Value::known(Fp::from(i as u64));
                    table.assign_cell(|| "byte", config.byte_table, i, || value)?;
                }
                Ok(())
            },
        )?;
        let layout = self.layout;
        let wires = layout.num_vars as usize + layout.limbs.len();
        let mut homes = layouter.assign_region(
            || "lanes",
            |mut region| {
                let mut homes: Vec<Option<AssignedCell<Fp, Fp>>> = vec![None; wires];
                for (lane, (rows, cols)) in layout.lanes.iter().zip(&config.lanes).enumerate() {
                    for (r, row) in rows.iter().enumerate() {
                        let q = &row.q;
                        let fixed = [q.qa, q.qb, q.qc, q.qm, q.qk, q.qn];
                        let scales = cols.scale.iter().flat_map(|s| s.iter().zip(q.scale));
                        for (col, value) in cols.coeffs.iter().zip(fixed).chain(scales) {
                            if value != Fp::ZERO {
                                region.assign_fixed(|| "q", *col, r, || Value::known(value))?;
                            }
                        }
                        if q.boolean {
                            cols.boolean.enable(&mut region, r)?;
                        }
                        for (i, (src, col)) in row.cells.iter().zip(cols.advice).enumerate() {
                            let value = match &self.cells {
                                Some(cells) => Value::known(cells[lane][r][i]),
                                None => Value::unknown(),
                            };
                            let cell = region.assign_advice(|| "cell", col, r, || value)?;
                            if let Src::Wire(w) = src {
                                match &homes[*w as usize] {
                                    Some(home) => {
                                        region.constrain_equal(home.cell(), cell.cell())?
                                    }
                                    None => homes[*w as usize] = Some(cell),
                                }
                            }
                        }
                    }
                }
                Ok(homes)
            },
        )?;
        let chip = Pow5Chip::construct(config.poseidon.clone());
        let mut links = Vec::new();
        for (input, output) in &layout.permutes {
            let mut state = Vec::with_capacity(3);
            for v in input {
                let home = homes[v.index()].clone().ok_or(Error::Synthesis)?;
                state.push(StateWord::from(home));
            }
            let state: [StateWord<Fp>; 3] = state.try_into().map_err(|_| Error::Synthesis)?;
            let out = <Pow5Chip<Fp, 3, 2> as PoseidonInstructions<Fp, P128Pow5T3, 3, 2>>::permute(
                &chip,
                &mut layouter.namespace(|| "permute"),
                &state,
            )?;
            for (v, word) in output.iter().zip(out) {
                let cell: AssignedCell<Fp, Fp> = word.into();
                match &homes[v.index()] {
                    Some(home) => links.push((home.cell(), cell.cell())),
                    None => homes[v.index()] = Some(cell),
                }
            }
        }
        if !links.is_empty() {
            layouter.assign_region(
                || "permutation outputs",
                |mut region| {
                    links
                        .iter()
                        .try_for_each(|(a, b)| region.constrain_equal(*a, *b))
                },
            )?;
        }
        for (row, v) in layout.public.iter().enumerate() {
            let home = homes[v.index()].as_ref().ok_or(Error::Synthesis)?;
            layouter.constrain_instance(home.cell(), config.instance, row)?;
        }
        Ok(())
    }
}
