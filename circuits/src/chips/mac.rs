//! Dot products with constant weights in a column-wise multiply-accumulate gate.
//!
//! halo2-base's inner product spends three advice cells per term (and a copied constant
//! cell for the weight). A dense layer is almost all such terms, and its dot products
//! share their inputs: output `j` of a dense layer, or channel `j` of a convolution at
//! one position, weighs the same activations. So the model circuit adds `sets` groups of
//! one advice column `x`, `width` accumulator columns `acc_i` and `width` fixed weight
//! columns `w_i`, with the fixed selectors `q` and `s` (the latter only when
//! `width > 1`), and the gates
//!
//! ```text
//! mac:        q * (acc_i - x * w_i) - q * (q - 1) * acc_i[-1] = 0      for every i
//! mac shift:  s * (acc_i - acc_{i+1}[-1]) = 0                          for i < width - 1
//! ```
//!
//! A *block* holds up to `width` dot products over the same terms: its rows walk the
//! terms, `x` copy-constrained to each activation in turn, and accumulate dot product `i`
//! in `acc_i` (`q = 1` starts, `acc_i = x w_i`; `q = 2` continues, `acc_i = acc_i[-1] +
//! x w_i`; `q = 0` leaves a row to the other gate). Then `b - 1` shift rows (`s = 1`)
//! move each sum one column down, so that `acc_0` holds dot product `j` on the `j`-th
//! row after the last term, where it is copy-constrained to the output cell in the
//! halo2-base region. Only `x` and `acc_0` join the permutation: a group costs two
//! permutation columns however wide it is, and a term about `(width + 1) / width`
//! advice cells. Weights sit in fixed columns, so the verifying key binds them; a bias is
//! one more term whose `x` is the constant-one cell.
//!
//! Which dot products share a block is decided by a key the lowering gives with each
//! (which node, which input cells), never by values, so keygen and proving lay out the
//! same rows.

use std::collections::HashMap;
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

/// The columns of one group: `x`, `acc_i`, `w_i` and the selectors `q` and `s`.
#[derive(Clone, Debug)]
pub struct MacColumns {
    pub x: Column<Advice>,
    pub acc: Vec<Column<Advice>>,
    pub w: Vec<Column<Fixed>>,
    pub q: Column<Fixed>,
    /// The shift selector; `None` at width 1, where a block is one dot product.
    pub shift: Option<Column<Fixed>>,
}

/// The MAC groups of a circuit.
#[derive(Clone, Debug)]
pub struct MacConfig {
    pub sets: Vec<MacColumns>,
}

impl MacConfig {
    /// Adds `sets` groups of `width` accumulators, each with its gates.
    pub fn configure<F: ScalarField>(meta: &mut ConstraintSystem<F>, width: usize, sets: usize) -> MacConfig {
        let sets = (0..sets).map(|_| Self::group(meta, width)).collect();
        MacConfig { sets }
    }

    fn group<F: ScalarField>(meta: &mut ConstraintSystem<F>, width: usize) -> MacColumns {
        let x = meta.advice_column();
        meta.enable_equality(x);
        let acc: Vec<_> = (0..width).map(|_| meta.advice_column()).collect();
        meta.enable_equality(acc[0]);
        let w: Vec<_> = (0..width).map(|_| meta.fixed_column()).collect();
        let q = meta.fixed_column();
        let shift = (width > 1).then(|| meta.fixed_column());
        let cols = MacColumns { x, acc, w, q, shift };
        meta.create_gate("mac", |meta| {
            let q = meta.query_fixed(cols.q, Rotation::cur());
            let x = meta.query_advice(cols.x, Rotation::cur());
            let one = Expression::Constant(F::ONE);
            let carry = q.clone() * (q.clone() - one);
            cols.acc
                .iter()
                .zip(&cols.w)
                .map(|(&a, &w)| {
                    let acc = meta.query_advice(a, Rotation::cur());
                    let prev = meta.query_advice(a, Rotation::prev());
                    let w = meta.query_fixed(w, Rotation::cur());
                    q.clone() * (acc - x.clone() * w) - carry.clone() * prev
                })
                .collect::<Vec<_>>()
        });
        if let Some(s) = cols.shift {
            meta.create_gate("mac shift", |meta| {
                let s = meta.query_fixed(s, Rotation::cur());
                cols.acc
                    .windows(2)
                    .map(|p| s.clone() * (meta.query_advice(p[0], Rotation::cur()) - meta.query_advice(p[1], Rotation::prev())))
                    .collect::<Vec<_>>()
            });
        }
        cols
    }
}

/// One dot product of a block: its weights (one per term of the block) and output cell.
#[derive(Clone, Debug)]
struct Dot<F: ScalarField> {
    ws: Vec<F>,
    out: AssignedValue<F>,
    /// Added to the first accumulator: zero except in negative tests.
    acc_offset: F,
}

/// Dot products over the same terms `xs`, laid out together.
#[derive(Clone, Debug)]
struct Block<F: ScalarField> {
    xs: Vec<AssignedValue<F>>,
    dots: Vec<Dot<F>>,
    /// Added to what the first shift row moves down: zero except in negative tests.
    shift_offset: F,
}

/// Rows taken by a block of `dots` dot products of `terms` terms each: one per term (at
/// least one), then one shift row per dot product after the first.
pub fn block_rows(terms: usize, dots: usize) -> usize {
    terms.max(1) + dots.max(1) - 1
}

#[derive(Debug, Default)]
struct State<F: ScalarField> {
    blocks: Vec<Block<F>>,
    /// Where each dot product went: (block, position in it), in recording order.
    at: Vec<(usize, usize)>,
    grouping: Grouping,
    /// Every dot product's share key and number of terms, in recording order.
    log: Vec<DotShape>,
}

/// Which block each dot product joins, by its share key and number of terms only: the
/// rule [`Macs::add`] lays blocks out by and [`block_rows_for`] counts them by.
#[derive(Debug, Default)]
struct Grouping {
    /// Terms and dot products of every block.
    blocks: Vec<(usize, usize)>,
    /// Blocks that still take dot products, by key.
    open: HashMap<u64, usize>,
}

impl Grouping {
    /// The block (a new one when it is `blocks.len()` before the call) and the position
    /// in it of the next dot product, `terms` terms long, at width `width`.
    fn place(&mut self, share: Option<u64>, terms: usize, width: usize) -> (usize, usize) {
        let b = match share.and_then(|k| self.open.get(&k).copied()).filter(|&b| self.blocks[b].0 == terms) {
            Some(b) => b,
            None => {
                self.blocks.push((terms, 0));
                let b = self.blocks.len() - 1;
                if let Some(k) = share.filter(|_| width > 1) {
                    self.open.insert(k, b);
                }
                b
            }
        };
        let pos = self.blocks[b].1;
        self.blocks[b].1 += 1;
        if pos + 1 == width {
            if let Some(k) = share {
                self.open.remove(&k);
            }
        }
        (b, pos)
    }
}

/// What decides where a dot product goes: its share key and its number of terms.
pub type DotShape = (Option<u64>, usize);

/// The dot products of one model, in lowering order (deterministic).
#[derive(Clone, Debug)]
pub struct Macs<F: ScalarField> {
    pub width: usize,
    state: Arc<Mutex<State<F>>>,
    /// The constant-one cell that biases multiply.
    one: Arc<Mutex<Option<AssignedValue<F>>>>,
    witness_gen_only: bool,
    copy_manager: SharedCopyConstraintManager<F>,
}

impl<F: ScalarField> Macs<F> {
    pub fn new(width: usize, witness_gen_only: bool, copy_manager: SharedCopyConstraintManager<F>) -> Macs<F> {
        assert!(width > 0, "MAC width must be positive");
        let state = Arc::new(Mutex::new(State { blocks: Vec::new(), at: Vec::new(), grouping: Grouping::default(), log: Vec::new() }));
        Macs { width, state, one: Default::default(), witness_gen_only, copy_manager }
    }

    /// The constant-one cell (loaded on first use).
    pub fn one(&self, ctx: &mut Context<F>) -> AssignedValue<F> {
        *self.one.lock().unwrap().get_or_insert_with(|| ctx.load_constant(F::ONE))
    }

    /// The constant-one cell, if some bias loaded it.
    pub fn one_cell(&self) -> Option<AssignedValue<F>> {
        *self.one.lock().unwrap()
    }

    /// Records `out = sum_t terms[t].0 * terms[t].1`; `out` must hold that value.
    ///
    /// Dot products recorded with the same `share` key must have the same term cells in
    /// the same order (only their weights differ): they may share a block, whose `x`
    /// column is copy-constrained to the first one's cells. `None` shares with nothing.
    pub fn add(&self, share: Option<u64>, terms: &[(AssignedValue<F>, F)], out: AssignedValue<F>) {
        let mut st = self.state.lock().unwrap();
        st.log.push((share, terms.len()));
        let dot = Dot { ws: terms.iter().map(|t| t.1).collect(), out, acc_offset: F::ZERO };
        let (b, pos) = st.grouping.place(share, terms.len(), self.width);
        if b == st.blocks.len() {
            st.blocks.push(Block { xs: terms.iter().map(|t| t.0).collect(), dots: Vec::new(), shift_offset: F::ZERO });
        } else {
            // Keygen and MockProver see the cells: a key shared by other cells (a
            // lowering bug, or a 64-bit hash collision) stops there, before any key
            // exists. Proving has no cells and follows the same keys.
            let same = st.blocks[b].xs.iter().zip(terms).all(|(x, t)| x.cell == t.0.cell);
            assert!(self.witness_gen_only || same, "MAC dot products share a key but not their input cells");
        }
        st.blocks[b].dots.push(dot);
        st.at.push((b, pos));
    }

    /// The value `sum_t x_t * w_t` of a dot product.
    pub fn value(terms: &[(AssignedValue<F>, F)]) -> F {
        terms.iter().fold(F::ZERO, |s, (x, w)| s + *x.value() * w)
    }

    /// Negative tests: the MAC gate's copy of term `term` of dot product `dot` (and of
    /// the others in its block) takes the value `v`; the activation cell keeps the
    /// honest one.
    #[doc(hidden)]
    pub fn tamper_term(&self, dot: usize, term: usize, v: F) {
        let mut st = self.state.lock().unwrap();
        let (b, _) = st.at[dot];
        st.blocks[b].xs[term].value = halo2_base::halo2_proofs::plonk::Assigned::Trivial(v);
    }

    /// Negative tests: the first accumulator of dot product `dot` is off by `delta`.
    #[doc(hidden)]
    pub fn tamper_acc(&self, dot: usize, delta: F) {
        let mut st = self.state.lock().unwrap();
        let (b, p) = st.at[dot];
        st.blocks[b].dots[p].acc_offset = delta;
    }

    /// Negative tests: the first shift row of the block of dot product `dot` moves every
    /// sum down off by `delta`.
    #[doc(hidden)]
    pub fn tamper_shift(&self, dot: usize, delta: F) {
        let mut st = self.state.lock().unwrap();
        let (b, _) = st.at[dot];
        st.blocks[b].shift_offset = delta;
    }

    /// Number of dot products recorded.
    pub fn len(&self) -> usize {
        self.state.lock().unwrap().at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of terms of every dot product, in recording order.
    pub fn lengths(&self) -> Vec<usize> {
        let st = self.state.lock().unwrap();
        st.at.iter().map(|&(b, _)| st.blocks[b].xs.len()).collect()
    }

    /// Rows of every block, in layout order: all the planner needs.
    pub fn block_rows(&self) -> Vec<usize> {
        self.state.lock().unwrap().blocks.iter().map(|b| block_rows(b.xs.len(), b.dots.len())).collect()
    }

    /// The share key and term count of every dot product recorded, in order: with
    /// [`block_rows_for`], the block rows at any width.
    pub fn dot_shapes(&self) -> Vec<DotShape> {
        self.state.lock().unwrap().log.clone()
    }

    /// Assigns every block (a block never spans two groups) and its copy constraints.
    /// Must run inside the builder's region, before its copy constraints are imposed.
    /// Panics if the groups are too few: the planner sized them.
    pub fn assign(&self, config: &MacConfig, usable_rows: usize, region: &mut Region<F>) {
        let st = self.state.lock().unwrap();
        let mut copy = (!self.witness_gen_only).then(|| self.copy_manager.lock().unwrap());
        let mut placer = Placer::new(usable_rows);
        let m = self.width;
        for block in &st.blocks {
            let (n, b) = (block.xs.len(), block.dots.len());
            let (set, start) = placer.place(block_rows(n, b)).expect("the planner sized the MAC groups");
            let cols = &config.sets[set];
            let mut acc: Vec<F> = (0..m).map(|i| block.dots.get(i).map_or(F::ZERO, |d| d.acc_offset)).collect();
            // Accumulation rows: one per term (a dot product without terms takes one row of zeros).
            for r in 0..n.max(1) {
                let row = start + r;
                let x = block.xs.get(r);
                let xv = x.map_or(F::ZERO, |x| *x.value());
                let cell = raw_assign_advice(region, cols.x, row, Value::known(xv));
                if let (Some(copy), Some(x)) = (copy.as_mut(), x) {
                    constrain_virtual_equals_external(region, *x, cell.cell(), copy);
                }
                for (i, a) in acc.iter_mut().enumerate() {
                    let w = block.dots.get(i).and_then(|d| d.ws.get(r)).copied().unwrap_or(F::ZERO);
                    *a += xv * w;
                    let cell = raw_assign_advice(region, cols.acc[i], row, Value::known(*a));
                    if let Some(copy) = copy.as_mut() {
                        raw_assign_fixed(region, cols.w[i], row, w);
                        if i == 0 && r + 1 == n.max(1) {
                            constrain_virtual_equals_external(region, block.dots[0].out, cell.cell(), copy);
                        }
                    }
                }
                if copy.is_some() {
                    raw_assign_fixed(region, cols.q, row, fe(if r == 0 { 1 } else { 2 }));
                }
            }
            // Shift rows: dot product j reaches acc_0 on the j-th.
            for j in 1..b {
                let row = start + n.max(1) - 1 + j;
                let offset = if j == 1 { block.shift_offset } else { F::ZERO };
                acc.rotate_left(1);
                acc[m - 1] = F::ZERO;
                for i in 0..m - 1 {
                    acc[i] += offset;
                }
                for (i, a) in acc.iter().enumerate() {
                    let cell = raw_assign_advice(region, cols.acc[i], row, Value::known(*a));
                    if let (Some(copy), 0) = (copy.as_mut(), i) {
                        constrain_virtual_equals_external(region, block.dots[j].out, cell.cell(), copy);
                    }
                }
                if let (Some(_), Some(s)) = (copy.as_ref(), cols.shift) {
                    raw_assign_fixed(region, s, row, F::ONE);
                }
            }
        }
    }
}

/// The rows of every block (in layout order) that [`Macs::add`] makes of dot products
/// `dots` at width `width`: its grouping, without cells.
pub fn block_rows_for(dots: &[DotShape], width: usize) -> Vec<usize> {
    let mut g = Grouping::default();
    for &(share, terms) in dots {
        g.place(share, terms, width);
    }
    g.blocks.into_iter().map(|(terms, dots)| block_rows(terms, dots)).collect()
}

/// Places blocks top to bottom from row 1 (row 0 stays free, so no block's first row has
/// its `acc[-1]` in the wrapped-around blinding rows), moving to the next group when one
/// is full.
pub struct Placer {
    usable: usize,
    set: usize,
    offset: usize,
}

impl Placer {
    pub fn new(usable: usize) -> Placer {
        Placer { usable, set: 0, offset: 1 }
    }

    /// The group and first row for a block of `rows` rows; `None` if it cannot fit any
    /// group of this height.
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
        if self.offset == 1 {
            self.set
        } else {
            self.set + 1
        }
    }
}

/// Groups needed for blocks of `rows` rows each in `usable` rows, or `None` when one
/// block is taller than a column.
pub fn sets_needed(rows: &[usize], usable: usize) -> Option<usize> {
    let mut p = Placer::new(usable);
    for &r in rows {
        p.place(r)?;
    }
    Some(p.sets())
}
