//! Dot products with constant weights in a wide multiply-accumulate gate.
//!
//! halo2-base's inner product spends three advice cells per term (and a copied constant
//! cell for the weight). A dense layer is almost all such terms, so the model circuit
//! adds `sets` groups of `width` advice columns `x`, one accumulator column `acc` and
//! `width` fixed weight columns `w`, with one fixed selector `q` and the gate
//!
//! ```text
//! q * (acc - sum_i x_i * w_i) - q * (q - 1) * acc[-1] = 0
//! ```
//!
//! `q = 1` starts a dot product (`acc = sum x_i w_i`), `q = 2` continues one
//! (`acc = acc[-1] + sum x_i w_i`), `q = 0` leaves the row free. Each `x_i` is
//! copy-constrained to the activation cell it stands for, and the last accumulator of a
//! dot product to the output cell in the halo2-base region, so a term costs about
//! `(width + 1) / width` advice cells. Weights sit in fixed columns, so the verifying key
//! binds them; a bias is one more term whose `x` is the constant-one cell.

use std::sync::{Arc, Mutex};

use halo2_base::halo2_proofs::{
    circuit::{Region, Value},
    plonk::{Advice, Column, ConstraintSystem, Expression, Fixed},
    poly::Rotation,
};
use halo2_base::utils::halo2::{constrain_virtual_equals_external, raw_assign_advice, raw_assign_fixed};
use halo2_base::virtual_region::copy_constraints::SharedCopyConstraintManager;
use halo2_base::{AssignedValue, Context};

use crate::field::{fe, ScalarField};

/// The columns of one group: `x`, `acc`, `w` and the selector `q`.
#[derive(Clone, Debug)]
pub struct MacColumns {
    pub x: Vec<Column<Advice>>,
    pub acc: Column<Advice>,
    pub w: Vec<Column<Fixed>>,
    pub q: Column<Fixed>,
}

/// The MAC groups of a circuit.
#[derive(Clone, Debug)]
pub struct MacConfig {
    pub sets: Vec<MacColumns>,
}

impl MacConfig {
    /// Adds `sets` groups of `width` terms per row, each with its gate.
    pub fn configure<F: ScalarField>(meta: &mut ConstraintSystem<F>, width: usize, sets: usize) -> MacConfig {
        let sets = (0..sets)
            .map(|_| {
                let mut advice = || {
                    let c = meta.advice_column();
                    meta.enable_equality(c);
                    c
                };
                let x: Vec<_> = (0..width).map(|_| advice()).collect();
                let acc = advice();
                let w: Vec<_> = (0..width).map(|_| meta.fixed_column()).collect();
                let q = meta.fixed_column();
                let cols = MacColumns { x, acc, w, q };
                meta.create_gate("mac", |meta| {
                    let q = meta.query_fixed(cols.q, Rotation::cur());
                    let acc = meta.query_advice(cols.acc, Rotation::cur());
                    let prev = meta.query_advice(cols.acc, Rotation::prev());
                    let sum = cols.x.iter().zip(&cols.w).fold(Expression::Constant(F::ZERO), |s, (x, w)| {
                        s + meta.query_advice(*x, Rotation::cur()) * meta.query_fixed(*w, Rotation::cur())
                    });
                    let one = Expression::Constant(F::ONE);
                    vec![q.clone() * (acc - sum) - q.clone() * (q - one) * prev]
                });
                cols
            })
            .collect();
        MacConfig { sets }
    }
}

/// One dot product: `out = sum_t xs[t] * ws[t]`.
#[derive(Clone, Debug)]
struct Dot<F: ScalarField> {
    xs: Vec<AssignedValue<F>>,
    ws: Vec<F>,
    out: AssignedValue<F>,
    /// Added to the first accumulator: zero except in negative tests.
    acc_offset: F,
}

/// Rows taken by a dot product of `n` terms at `width` terms per row.
pub fn rows_of(n: usize, width: usize) -> usize {
    n.div_ceil(width).max(1)
}

/// The dot products of one model, in lowering order (deterministic).
#[derive(Clone, Debug)]
pub struct Macs<F: ScalarField> {
    pub width: usize,
    dots: Arc<Mutex<Vec<Dot<F>>>>,
    /// The constant-one cell that biases multiply.
    one: Arc<Mutex<Option<AssignedValue<F>>>>,
    witness_gen_only: bool,
    copy_manager: SharedCopyConstraintManager<F>,
}

impl<F: ScalarField> Macs<F> {
    pub fn new(width: usize, witness_gen_only: bool, copy_manager: SharedCopyConstraintManager<F>) -> Macs<F> {
        assert!(width > 0, "MAC width must be positive");
        Macs { width, dots: Default::default(), one: Default::default(), witness_gen_only, copy_manager }
    }

    /// The constant-one cell (loaded on first use).
    pub fn one(&self, ctx: &mut Context<F>) -> AssignedValue<F> {
        *self.one.lock().unwrap().get_or_insert_with(|| ctx.load_constant(F::ONE))
    }

    /// Records `out = sum_t terms[t].0 * terms[t].1`; `out` must hold that value.
    pub fn add(&self, terms: &[(AssignedValue<F>, F)], out: AssignedValue<F>) {
        let dot = Dot { xs: terms.iter().map(|t| t.0).collect(), ws: terms.iter().map(|t| t.1).collect(), out, acc_offset: F::ZERO };
        self.dots.lock().unwrap().push(dot);
    }

    /// The value `sum_t x_t * w_t` of a dot product.
    pub fn value(terms: &[(AssignedValue<F>, F)]) -> F {
        terms.iter().fold(F::ZERO, |s, (x, w)| s + *x.value() * w)
    }

    /// Negative tests: the MAC gate's copy of term `term` of dot product `dot` takes the
    /// value `v` (its activation cell keeps the honest one).
    #[doc(hidden)]
    pub fn tamper_term(&self, dot: usize, term: usize, v: F) {
        self.dots.lock().unwrap()[dot].xs[term].value = halo2_base::halo2_proofs::plonk::Assigned::Trivial(v);
    }

    /// Negative tests: the first accumulator of dot product `dot` is off by `delta`.
    #[doc(hidden)]
    pub fn tamper_acc(&self, dot: usize, delta: F) {
        self.dots.lock().unwrap()[dot].acc_offset = delta;
    }

    /// Number of dot products recorded.
    pub fn len(&self) -> usize {
        self.dots.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Term counts of the dot products, in order: all the planner needs.
    pub fn lengths(&self) -> Vec<usize> {
        self.dots.lock().unwrap().iter().map(|d| d.xs.len()).collect()
    }

    /// Assigns every dot product (a dot product never spans two groups) and its copy
    /// constraints. Must run inside the builder's region, before its copy constraints are
    /// imposed. Panics if the groups are too few: the planner sized them.
    pub fn assign(&self, config: &MacConfig, usable_rows: usize, region: &mut Region<F>) {
        let dots = self.dots.lock().unwrap();
        let mut copy = (!self.witness_gen_only).then(|| self.copy_manager.lock().unwrap());
        let mut placer = Placer::new(usable_rows);
        for dot in dots.iter() {
            let rows = rows_of(dot.xs.len(), self.width);
            let (set, start) = placer.place(rows).expect("the planner sized the MAC groups");
            let cols = &config.sets[set];
            let mut acc = dot.acc_offset;
            for r in 0..rows {
                let row = start + r;
                let chunk = (r * self.width)..((r + 1) * self.width).min(dot.xs.len());
                for (i, t) in chunk.enumerate() {
                    let x = dot.xs[t];
                    acc += *x.value() * dot.ws[t];
                    let cell = raw_assign_advice(region, cols.x[i], row, Value::known(*x.value()));
                    if let Some(copy) = copy.as_mut() {
                        constrain_virtual_equals_external(region, x, cell.cell(), copy);
                        raw_assign_fixed(region, cols.w[i], row, dot.ws[t]);
                    }
                }
                let cell = raw_assign_advice(region, cols.acc, row, Value::known(acc));
                if let Some(copy) = copy.as_mut() {
                    raw_assign_fixed(region, cols.q, row, fe(if r == 0 { 1 } else { 2 }));
                    if r + 1 == rows {
                        constrain_virtual_equals_external(region, dot.out, cell.cell(), copy);
                    }
                }
            }
        }
    }
}

/// Places dot products top to bottom from row 1 (row 0 stays free, so no dot product's
/// first row has its `acc[-1]` in the wrapped-around blinding rows), moving to the next
/// group when one is full.
pub struct Placer {
    usable: usize,
    set: usize,
    offset: usize,
}

impl Placer {
    pub fn new(usable: usize) -> Placer {
        Placer { usable, set: 0, offset: 1 }
    }

    /// The group and first row for a dot product of `rows` rows; `None` if it cannot fit
    /// any group of this height.
    pub fn place(&mut self, rows: usize) -> Option<(usize, usize)> {
        if rows + 1 > self.usable {
            return None;
        }
        if self.offset + rows > self.usable {
            self.set += 1;
            self.offset = 1;
        }
        let at = (self.set, self.offset);
        self.offset += rows;
        Some(at)
    }

    /// Groups used so far.
    pub fn sets(&self) -> usize {
        if self.offset == 1 { self.set } else { self.set + 1 }
    }
}

/// Groups of `width` needed for dot products of `lengths` terms in `usable` rows, or
/// `None` when one dot product is taller than a column.
pub fn sets_needed(lengths: &[usize], width: usize, usable: usize) -> Option<usize> {
    let mut p = Placer::new(usable);
    for &n in lengths {
        p.place(rows_of(n, width))?;
    }
    Some(p.sets())
}
