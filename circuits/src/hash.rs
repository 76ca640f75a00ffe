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
//! Values are the quantized integers, each mapped to its field element (`x` for
//! `x >= 0`, `p - |x|` for `x < 0`), in the graph's port order, row-major within a
//! port. Invariant: [`hash_values`] equals [`hash_cells`] on the same values; the test
//! `hashed_visibility` in `tests/` checks it through a MockProver.

use halo2_base::poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher};
use halo2_base::utils::BigPrimeField;
use halo2_base::{gates::GateInstructions, AssignedValue, Context};
use snark_verifier_sdk::snark_verifier::util::hash::Poseidon;
use snark_verifier_sdk::NativeLoader;

use crate::field::fe;
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
pub fn hash_cells<F: BigPrimeField>(
    ctx: &mut Context<F>,
    gate: &impl GateInstructions<F>,
    cells: &[AssignedValue<F>],
) -> AssignedValue<F> {
    let mut hasher = PoseidonHasher::<F, T, RATE>::new(OptimizedPoseidonSpec::new::<R_F, R_P, 0>());
    hasher.initialize_consts(ctx, gate);
    hasher.hash_fix_len_array(ctx, gate, cells)
}
