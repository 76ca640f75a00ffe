//! Graph rewrites run after import, before calibration (as tract's optimiser passes),
//! one file per pass. Each returns how many rewrites it made; the graph computes the
//! same function afterwards.
//!
//! - [`fold_batch_norms`]: a BatchNormalization whose input comes only from a Conv,
//!   ConvTranspose or Gemm with constant weights is folded into that op's weights and
//!   bias (`batchnorm.rs`).
//! - [`fuse_pointwise`]: chains of element-wise ops on one activation become one lookup
//!   table (`fuse.rs`).

mod batchnorm;
mod fuse;

pub use batchnorm::fold_batch_norms;
pub use fuse::fuse_pointwise;

use crate::ir::Graph;

/// Runs every pass, batch-norm folding first (a folded Conv is not point-wise).
pub fn optimize(mut graph: Graph) -> Graph {
    fold_batch_norms(&mut graph);
    fuse_pointwise(&mut graph);
    graph
}
