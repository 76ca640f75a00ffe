//! Poseidon commitments to private values ([`crate::Visibility::Hashed`]).
//!
//! The hash is halo2-base's Poseidon sponge over BN254's scalar field with the standard
//! parameters T = 3 (state width), RATE = 2, R_F = 8 full rounds, R_P = 57 partial
//! rounds and SECURE_MDS = 0, the parameters of halo2-base's
//! `OptimizedPoseidonSpec::new::<8, 57, 0>()`. A fixed-length list is absorbed RATE
//! elements per permutation (the last chunk padded with a single 1 then 0s; a list
//! whose length is a multiple of RATE gets one more permutation of padding only), and
//! the hash is the state's element 1: `PoseidonHasher::hash_fix_len_array` in-circuit,
//! `snark_verifier::util::hash::Poseidon` natively.
//!
//! Inputs and outputs (activations, each `|x| < 2^(bits-1)`) are hashed **packed**:
//! first packed `floor(252 / bits)` to a field element exactly as public values are
//! ([`crate::public::pack`]: digit `x + 2^(bits-1)`, little-endian), then the packed
//! elements are hashed ([`hash_packed`]). Packing is injective for range-checked values
//! and cuts the Poseidon permutations by the packing factor (7 at 32 bits): the
//! 784-input MNIST MLP hashes 112 elements, not 784.
//!
//! Parameters, which are not range-checked, are hashed one per element ([`hash_values`]):
//! each quantized integer mapped to its field element (`x` for `x >= 0`, `p - |x|` for
//! `x < 0`), in canonical order. Invariants: [`hash_values`] equals [`hash_cells`] and
//! [`hash_packed`] equals [`hash_packed_cells`] on the same values; the test
//! `hashed_visibility` in `tests/` checks both, and the instances through a MockProver.

use halo2_base::poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher};
use halo2_base::utils::BigPrimeField;
use halo2_base::{gates::GateInstructions, AssignedValue, Context};
use snark_verifier_sdk::snark_verifier::util::hash::Poseidon;
use snark_verifier_sdk::NativeLoader;

use crate::chips::Chips;
use crate::field::{fe, ScalarField};
use crate::public;
use crate::Fr;

/// Poseidon state width.
pub const T: usize = 3;
/// Field elements absorbed per permutation.
pub const RATE: usize = 2;
/// Full rounds.
pub const R_F: usize = 8;
/// Partial rounds (BN254, T = 3).
pub const R_P: usize = 57;

/// The Poseidon hash of signed values, computed natively: exactly [`hash_cells`].
pub fn hash_values(values: &[i128]) -> Fr {
    let mut sponge = Poseidon::<Fr, Fr, T, RATE>::new::<R_F, R_P, 0>(&NativeLoader);
    let elems: Vec<Fr> = values.iter().map(|v| fe::<Fr>(*v)).collect();
    sponge.update(&elems);
    sponge.squeeze()
}

/// Constrains and returns the Poseidon hash of `cells`, in-circuit. The number of
/// cells is part of the circuit's shape (fixed length).
pub fn hash_cells<F: BigPrimeField>(ctx: &mut Context<F>, gate: &impl GateInstructions<F>, cells: &[AssignedValue<F>]) -> AssignedValue<F> {
    let mut hasher = PoseidonHasher::<F, T, RATE>::new(OptimizedPoseidonSpec::new::<R_F, R_P, 0>());
    hasher.initialize_consts(ctx, gate);
    hasher.hash_fix_len_array(ctx, gate, cells)
}

/// The Poseidon hash of activations (each `|x| < 2^(bits-1)`), packed as public values
/// are before hashing, computed natively: exactly [`hash_packed_cells`].
pub fn hash_packed(values: &[i128], bits: u32) -> Fr {
    let mut sponge = Poseidon::<Fr, Fr, T, RATE>::new::<R_F, R_P, 0>(&NativeLoader);
    sponge.update(&public::pack::<Fr>(values, bits));
    sponge.squeeze()
}

/// Constrains and returns the packed Poseidon hash of activation cells. Cells not marked
/// in `checked` are range-checked to `chips.bits` first, which makes the packing
/// injective.
pub fn hash_packed_cells<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    cells: &[AssignedValue<F>],
    checked: &[bool],
) -> AssignedValue<F> {
    let packed = public::pack_cells(ctx, chips, cells, checked);
    hash_cells(ctx, chips.gate(), &packed)
}
