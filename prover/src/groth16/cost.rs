//! Proving memory of the Groth16 backend: read from the R1CS size, not from a halo2
//! layout (halo2 circuits' estimates are in [`zkinfer_circuits::cost`], whose constants
//! this shares).

use zkinfer_circuits::cost::{FIELD_BYTES, RUNTIME_BYTES};

/// Memory for one Groth16 proof: the proving key (deserialized, about twice its
/// compressed bytes, and the serialized copy), the constraint matrices and witness
/// (about 400 bytes per constraint with ark-relations' sparse rows) and the FFT
/// domains of the quotient (7 vectors of field elements per constraint, rounded up to a
/// power of two). A model, not a measurement.
pub fn prove_memory(pk_bytes: u64, num_constraints: u64) -> u64 {
    let n = num_constraints.max(1).next_power_of_two();
    3 * pk_bytes + 400 * num_constraints + 7 * FIELD_BYTES * n + RUNTIME_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the service's admission estimate computed it before it moved here.
    #[test]
    fn estimate_is_pinned() {
        assert_eq!(prove_memory(1_000_000, 5000), 73_943_872);
        assert_eq!(prove_memory(0, 0), 67_109_088);
        assert_eq!(prove_memory(123_456, 1 << 16), 108_373_696);
    }
}
