//! Calibration may choose activation and weight scales up to 2^20, and compile keeps
//! such a fine scale only where it costs (almost) nothing and gains precision: it also
//! plans the model at scales capped at 2^16 and takes that when the finer one widens the
//! circuit or is no more precise.

mod common;

use zkinfer_compiler::calibration::COARSE_SCALE;
use zkinfer_compiler::halo2::keep_finer;
use zkinfer_compiler::{CompileOptions, CompiledModel};

fn compile(name: &str) -> CompiledModel {
    common::compile_corpus(name, &CompileOptions::default()).1
}

#[test]
fn a_free_finer_scale_is_kept_and_a_costly_one_is_not() {
    // 1l_conv: 2^20 fits the same k = 9 (one more advice column) and cuts the error
    // about 15-fold (7.4e-6 at 2^16).
    let conv = compile("1l_conv");
    let (cal, k) = (&conv.settings().calibration, conv.settings().k());
    assert_eq!((cal.scale, cal.param_scale), (20, 20));
    assert_eq!(k, Some(9));
    let err = conv.settings().fidelity.max_abs_error();
    assert!(err < 2e-6, "1l_conv at 2^20: max abs error {err}");

    // 1l_linear is exact at either scale: the finer one is no more precise, so the
    // coarser one is kept.
    let linear = compile("1l_linear");
    assert_eq!(linear.settings().calibration.scale, COARSE_SCALE);

    // The rule itself: a finer setting is kept when it costs at most 25% more and is
    // strictly more precise. (1l_instance_norm, the corpus model whose variance needed
    // another limb at 2^20, no longer does: its square root is exact now.)
    assert!(keep_finer(1.2, 1.0, 1e-7, 1e-6));
    assert!(!keep_finer(1.3, 1.0, 1e-7, 1e-6), "too costly");
    assert!(!keep_finer(1.0, 1.0, 1e-6, 1e-6), "no more precise");
    let norm = compile("1l_instance_norm");
    assert_eq!((norm.settings().calibration.scale, norm.settings().k()), (20, Some(9)));
}
