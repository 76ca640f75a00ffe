//! Chips, one file per op family. Each takes the halo2-base context and chips and
//! returns assigned cells; layout is the builder's job (halo2-lib style).
//!
//! Witnesses are computed here from the assigned cells alone; tests check that they
//! equal the reference interpreter of `zkinfer-models` exactly.

pub mod compare;
pub mod div;
pub mod io;
pub mod linear;
pub mod mac;
pub mod relu;
pub mod sqrt;
pub mod table;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use halo2_base::gates::{GateChip, RangeChip, RangeInstructions};
use halo2_base::{AssignedValue, Context};

use crate::field::ScalarField;

/// What the planner's counting pass ([`crate::count`]) tallies instead of laying out.
///
/// Range checks by width (bits → number of checks): everything else a chip assigns does
/// not depend on `lookup_bits`, so one counting pass serves every shape. And, when the
/// pass lowers with the MAC gate, what the plain layout would spend on the same dot
/// products instead (halo2-base's inner product, [`linear::linear_shared`]): its advice
/// cells beyond the MAC layout's, and its constants (the weights), so the one pass
/// counts both layout families.
#[derive(Debug, Default)]
pub struct Tally {
    pub range_checks: RefCell<BTreeMap<usize, usize>>,
    pub plain_cells: Cell<usize>,
    pub plain_constants: RefCell<Vec<i128>>,
}

/// What every chip needs: the gate, the range chip and the activation bound.
#[derive(Clone, Copy)]
pub struct Chips<'a, F: ScalarField> {
    pub range: &'a RangeChip<F>,
    /// Checked activations satisfy `|q| < 2^(bits-1)`.
    pub bits: u32,
    /// The multiply-accumulate gate for constant-weight dot products, when the circuit
    /// shape has one; else they use halo2-base's inner product.
    pub mac: Option<&'a mac::Macs<F>>,
    /// Set by the lowering for a Linear or Bilinear node whose output feeds a ReLU: the
    /// ReLU's sign decomposition of each output `q` proves `|q| < 2^(bits-1)`, the very
    /// range check that makes a rescale's quotient unique, so the rescale skips its own.
    pub q_checked_by_relu: bool,
    /// Counting: range checks are tallied here and not assigned.
    pub tally: Option<&'a Tally>,
}

impl<'a, F: ScalarField> Chips<'a, F> {
    /// The chips for activations of `bits` bits, without the MAC gate.
    pub fn new(range: &'a RangeChip<F>, bits: u32) -> Self {
        Chips { range, bits, mac: None, q_checked_by_relu: false, tally: None }
    }

    /// Constrains `0 <= a < 2^bits` (or tallies the check when counting). Every range
    /// check of the chips goes through here.
    pub fn range_check(&self, ctx: &mut Context<F>, a: AssignedValue<F>, bits: usize) {
        match self.tally {
            Some(t) => *t.range_checks.borrow_mut().entry(bits).or_default() += 1,
            None => self.range.range_check(ctx, a, bits),
        }
    }

    /// The flex gate.
    pub fn gate(&self) -> &GateChip<F> {
        self.range.gate()
    }

    /// `2^(bits-1)`, the offset that makes a checked activation non-negative.
    pub fn offset(&self) -> i128 {
        1i128 << (self.bits - 1)
    }
}
