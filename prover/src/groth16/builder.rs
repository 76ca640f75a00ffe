//! The R1CS builder: allocation, equality and bit decompositions over BN254.
//!
//! Gadgets take `&mut Builder` and return [`Wire`]s; the builder owns the arkworks
//! constraint system (halo2-lib's `Context` in R1CS form). Witness values are computed
//! alongside the constraints from the wires alone, never from the reference interpreter,
//! against which tests compare them.

use ark_bn254::Fr;
use ark_relations::r1cs::{ConstraintSystemRef, LinearCombination, Variable};

use super::error::Groth16Error;
use super::field::{fr, pow2};

/// A value of the circuit: a linear combination of R1CS variables and its integer value.
#[derive(Clone, Debug)]
pub struct Wire {
    pub lc: LinearCombination<Fr>,
    /// The integer the wire carries in this witness (meaningless in setup mode).
    pub value: i128,
    /// For a checked activation (`|value| < 2^(bits-1)` enforced by the constraints), the
    /// boolean that is 1 iff `value >= 0`; `Variable::One` for wires known non-negative.
    /// `None` for unchecked wires (sums that are not rescaled).
    pub sign: Option<Variable>,
}

impl Wire {
    /// A constant (no variable, no constraint).
    pub fn constant(v: i64) -> Wire {
        Wire { lc: LinearCombination(vec![(fr(v as i128), Variable::One)]), value: v as i128, sign: None }
    }
}

/// Linear combinations with more terms than this are materialized into a fresh witness
/// before they are reused, so that chains of unscaled sums do not grow the matrices.
pub const MAX_INLINE_TERMS: usize = 4;

/// Most constraints a lowering may emit by default: about what halo2's `max_k = 23`
/// admits. The matrices of larger systems take many GiB while being built (and a
/// Groth16 setup over them more still), so lowering stops with
/// [`Groth16Error::TooLarge`] at the limit instead of exhausting memory.
pub const MAX_CONSTRAINTS: usize = 1 << 22;

/// Owns the constraint system while a graph is lowered.
pub struct Builder {
    pub cs: ConstraintSystemRef<Fr>,
    /// Checked activations satisfy `|q| < 2^(bits-1)`.
    pub bits: u32,
    /// In setup mode values are placeholders and range violations are not errors.
    setup: bool,
    /// Lowering fails once the system would exceed this many constraints.
    max_constraints: usize,
}

impl Builder {
    /// A builder over `cs` for activations of `bits` bits, with the default limit of
    /// [`MAX_CONSTRAINTS`].
    pub fn new(cs: ConstraintSystemRef<Fr>, bits: u32) -> Builder {
        Builder::with_limit(cs, bits, MAX_CONSTRAINTS)
    }

    /// A builder that fails with [`Groth16Error::TooLarge`] past `max_constraints`.
    pub fn with_limit(cs: ConstraintSystemRef<Fr>, bits: u32, max_constraints: usize) -> Builder {
        let setup = cs.is_in_setup_mode();
        Builder { cs, bits, setup, max_constraints }
    }

    /// Whether this is a setup-mode synthesis (placeholder values, no witness).
    pub fn is_setup(&self) -> bool {
        self.setup
    }

    /// `2^(bits-1)`, the offset that makes a checked activation non-negative.
    pub fn offset(&self) -> i128 {
        1i128 << (self.bits - 1)
    }

    /// A private witness holding `v`.
    pub fn witness(&mut self, v: i128) -> Result<Variable, Groth16Error> {
        Ok(self.cs.new_witness_variable(|| Ok(fr(v)))?)
    }

    /// Enforces `a * b = c`.
    pub fn enforce(&mut self, a: LinearCombination<Fr>, b: LinearCombination<Fr>, c: LinearCombination<Fr>) -> Result<(), Groth16Error> {
        if self.cs.num_constraints() >= self.max_constraints {
            return Err(Groth16Error::TooLarge { limit: self.max_constraints });
        }
        Ok(self.cs.enforce_constraint(a, b, c)?)
    }

    /// Enforces `lc = 0` (one constraint).
    pub fn enforce_zero(&mut self, lc: LinearCombination<Fr>) -> Result<(), Groth16Error> {
        self.enforce(lc, Variable::One.into(), LinearCombination::zero())
    }

    /// Enforces that `v` is 0 or 1.
    pub fn enforce_bit(&mut self, v: Variable) -> Result<(), Groth16Error> {
        let one_minus = LinearCombination(vec![(Fr::from(1u8), Variable::One), (-Fr::from(1u8), v)]);
        self.enforce(v.into(), one_minus, LinearCombination::zero())
    }

    /// `a * b` as a new witness (one constraint).
    pub fn mul(&mut self, a: &Wire, b: &Wire) -> Result<Wire, Groth16Error> {
        let value = a.value * b.value;
        let p = self.witness(value)?;
        self.enforce(a.lc.clone(), b.lc.clone(), p.into())?;
        Ok(Wire { lc: p.into(), value, sign: None })
    }

    /// Decomposes `lc`, whose value is `value`, into `n` booleans (little-endian) and
    /// enforces `lc = sum b_i 2^i`: `n + 1` constraints. This proves `0 <= lc < 2^n` as
    /// an integer when `n` is below the field's 253 bits.
    ///
    /// Fails with [`Groth16Error::OutOfRange`] (naming `node`) when `value` is not in
    /// `[0, 2^n)` outside setup mode.
    pub fn bits(&mut self, node: &str, lc: &LinearCombination<Fr>, value: i128, n: u32) -> Result<Vec<Variable>, Groth16Error> {
        if n >= 253 {
            return Err(Groth16Error::TooWide { node: node.into(), bits: n, shift: 0 });
        }
        if !self.setup && (value < 0 || (n < 127 && value >> n != 0)) {
            return Err(Groth16Error::OutOfRange { node: node.into(), value, bits: n });
        }
        let mut sum = LinearCombination(Vec::with_capacity(n as usize + lc.len()));
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let bit = if i < 127 { (value >> i) & 1 } else { 0 };
            let b = self.witness(bit)?;
            self.enforce_bit(b)?;
            sum.0.push((pow2(i), b));
            out.push(b);
        }
        for (c, v) in lc.iter() {
            sum.0.push((-*c, *v));
        }
        sum.compactify();
        self.enforce_zero(sum)?;
        Ok(out)
    }

    /// Constrains `-2^(bits-1) <= w < 2^(bits-1)` through the `bits` bits of
    /// `w + 2^(bits-1)`, whose top bit is the sign bit of `w`. Free when `w` is already
    /// checked.
    pub fn checked(&mut self, node: &str, w: Wire) -> Result<Wire, Groth16Error> {
        if w.sign.is_some() {
            return Ok(w);
        }
        let mut shifted = w.lc.clone();
        shifted.0.push((fr(self.offset()), Variable::One));
        shifted.compactify();
        let bits = self.bits(node, &shifted, w.value + self.offset(), self.bits).map_err(|e| match e {
            Groth16Error::OutOfRange { node, .. } => Groth16Error::OutOfRange { node, value: w.value, bits: self.bits },
            e => e,
        })?;
        Ok(Wire { sign: bits.last().copied(), ..w })
    }

    /// Returns `w` itself when its linear combination is short, else a fresh witness
    /// equal to it (one constraint).
    pub fn compact(&mut self, w: Wire) -> Result<Wire, Groth16Error> {
        if w.lc.len() <= MAX_INLINE_TERMS {
            return Ok(w);
        }
        let v = self.witness(w.value)?;
        let mut diff = w.lc.clone();
        diff.0.push((-Fr::from(1u8), v));
        diff.compactify();
        self.enforce_zero(diff)?;
        Ok(Wire { lc: v.into(), value: w.value, sign: w.sign })
    }
}
