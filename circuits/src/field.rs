//! Conversions between signed integers and field elements.
//!
//! Circuits are generic over halo2-base's [`ScalarField`], the one named field trait of
//! this crate; negative integers are represented as `p - |x|`.

/// halo2-base's `BigPrimeField` (a `ScalarField` with 256-bit limbs, as BN254's `Fr`):
/// the Poseidon hasher of [`crate::hash`] needs it.
pub use halo2_base::utils::BigPrimeField as ScalarField;

/// The field element of a signed integer.
pub fn fe<F: ScalarField>(v: i128) -> F {
    // `from_u128` doubles 64 times (ff's default); most values fit a `u64`.
    if let Ok(u) = u64::try_from(v.unsigned_abs()) {
        let f = F::from(u);
        return if v < 0 { -f } else { f };
    }
    if v >= 0 {
        F::from_u128(v as u128)
    } else {
        -F::from_u128(v.unsigned_abs())
    }
}

/// The signed integer a field element stands for, if it lies within `i128`.
pub fn to_i128<F: ScalarField>(f: &F) -> Option<i128> {
    let bytes = f.to_bytes_le();
    let small = |b: &[u8]| -> Option<u128> {
        if b[16..].iter().any(|x| *x != 0) {
            return None;
        }
        Some(u128::from_le_bytes(b[..16].try_into().unwrap()))
    };
    if let Some(v) = small(&bytes) {
        return i128::try_from(v).ok();
    }
    let neg = (-*f).to_bytes_le();
    small(&neg).and_then(|v| i128::try_from(v).ok()).map(|v| -v)
}
