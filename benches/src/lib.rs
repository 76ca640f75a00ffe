//! zkinfer benchmarks: criterion benches of the hot parts (`benches/`), the `evm_call`
//! tool, and the side-by-side comparison with EZKL (`compare/compare.py`).
