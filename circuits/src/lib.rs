//! zkinfer circuits: the quantized graph lowered to halo2 (halo2-base on halo2-axiom,
//! KZG over BN254).
//!
//! - [`chips`]: one file per op family:
//!   - [`chips::io`]: range-checked input witnesses and fixed constants;
//!   - [`chips::linear`]: dot products with constant or private weights, products of
//!     activations, and the constrained rescale after them;
//!   - [`chips::mac`]: the column-wise multiply-accumulate gate for constant-weight dot products;
//!   - [`chips::relu`]: ReLU through a sign bit;
//!   - [`chips::compare`]: sign-bit comparisons (max/min, arg-max/arg-min, `<`, `==`);
//!   - [`chips::div`]: division by a witness value, rounded half up;
//!   - [`chips::sqrt`]: exact square roots without a table;
//!   - [`chips::table`]: lookups into fixed `(input, f(input), slope)` tables for point-wise functions;
//! - [`lower`]: walks a [`zkinfer_models::QuantGraph`] and calls the chips;
//! - [`shape`]: the parameters that fix a circuit ([`CircuitShape`], [`ModelParams`]);
//! - [`cost`]: a layout's column counts ([`LayoutStats`]) and every estimate made from
//!   them: proving time, verifier gas, proving memory;
//! - [`count`]: a model's cells counted once (range checks tallied by width, MAC dot
//!   products logged), from which every shape the planner weighs is arithmetic;
//! - [`layout`]: the planner that picks `k`, `lookup_bits` and the columns;
//! - [`circuit`]: the [`ModelCircuit`] given to MockProver, keygen and the prover;
//! - [`instances`] and [`hash`]: the public instance column (packed values, Poseidon hashes);
//! - [`segment`]: a model too large for one circuit cut into segments proved apart, chained by hashes.

pub mod chips;
pub mod circuit;
pub mod cost;
pub mod count;
pub mod error;
pub mod field;
pub mod hash;
pub mod instances;
pub mod layout;
pub mod lower;
pub mod public;
pub mod segment;
pub mod shape;
pub mod visibility;

pub use circuit::ModelCircuit;

/// Names the lowering of quantized graphs to circuits. Bump it with every change that
/// alters the constraints or the layout for the same parameters: key caches and settings
/// hashes include it, so keys made by another version are never reused. The golden
/// verifying-key digests (`prover/tests/golden_vk.rs`) record it: a key that changes under
/// the same version fails that test, and a new version needs the digests blessed again.
pub const CIRCUIT_VERSION: &str = "zkinfer-circuits/6: reductions by a witnessed best value, table clamps around the edge";
pub use cost::LayoutStats;
pub use error::CircuitError;
pub use halo2_base::gates::circuit::CircuitBuilderStage;
pub use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
pub use instances::{native_instances, InstanceLayout};
pub use layout::{plan, plan_candidates, Plan, PlanOptions};
pub use shape::{CircuitShape, ModelParams, ShapeError};
pub use visibility::{ParamVisibility, Visibility, VisibilityConfig};
