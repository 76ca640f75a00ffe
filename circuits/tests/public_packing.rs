//! Packing public values into instances: exact round trip, and non-packings refused.

use proptest::prelude::*;
use zkinfer_circuits::public::{num_instances, pack, unpack, values_per_instance};
use zkinfer_circuits::Fr;

proptest! {
    #[test]
    fn pack_unpack_round_trips(bits in 8u32..=40, raw in proptest::collection::vec(any::<i64>(), 0..40)) {
        let half = 1i128 << (bits - 1);
        let values: Vec<i128> = raw.iter().map(|v| (*v as i128).rem_euclid(2 * half) - half).collect();
        let inst: Vec<Fr> = pack(&values, bits);
        prop_assert_eq!(inst.len(), num_instances(values.len(), bits));
        prop_assert_eq!(unpack(&inst, values.len(), bits), Some(values));
    }
}

#[test]
fn high_bits_and_wrong_counts_are_not_packings() {
    let v = vec![1i128, -2, 3];
    let mut inst: Vec<Fr> = pack(&v, 32);
    assert_eq!(values_per_instance(32), 7);
    assert!(unpack(&inst, 4, 32).is_some(), "4 values still fit one instance");
    assert!(unpack(&inst, 8, 32).is_none(), "8 values need two instances");
    inst[0] = -Fr::from(1);
    assert!(unpack(&inst, 3, 32).is_none());
}
