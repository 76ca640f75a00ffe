//! What fixes a model circuit's shape: its parameters ([`ModelParams`]), break points and
//! visibility ([`CircuitShape`]), and the rows a column offers ([`usable_rows`]). The
//! circuit ([`crate::circuit`]) builds from these, the planner ([`crate::layout`]) chooses
//! them; neither is needed to read them.

use halo2_base::gates::circuit::BaseCircuitParams;
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use serde::{Deserialize, Serialize};

use crate::visibility::VisibilityConfig;

/// Rows kept free for blinding factors.
pub const BLINDING_ROWS: usize = 20;

/// Rows a column offers at `k`, the blinding rows left out: what the planner fills and
/// the MAC gate's column groups hold.
pub fn usable_rows(k: u32) -> usize {
    (1usize << k) - BLINDING_ROWS
}

/// Everything that fixes the circuit's shape: stored with the keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CircuitShape {
    pub params: ModelParams,
    pub break_points: MultiPhaseThreadBreakPoints,
    /// Which values are public instances.
    #[serde(default)]
    pub visibility: VisibilityConfig,
}

impl CircuitShape {
    /// log2 of the number of rows.
    pub fn k(&self) -> u32 {
        self.params.k as u32
    }
}

/// The MAC gate layout this build lays out ([`ModelParams::mac_layout`]): 2, column-wise
/// (see [`crate::chips::mac`]).
pub const MAC_LAYOUT: usize = 2;

/// The [`ModelParams::mac_layout`] of a shape with `mac_sets` MAC groups built now.
pub fn mac_layout_for(mac_sets: usize) -> usize {
    if mac_sets > 0 {
        MAC_LAYOUT
    } else {
        0
    }
}

/// The circuit parameters: halo2-base's, plus the advice column triples looked up in the
/// function tables (0: no table columns at all, as for models without tables).
#[derive(Clone, Debug, Default, Hash, Serialize, Deserialize)]
pub struct ModelParams {
    #[serde(flatten)]
    pub base: BaseCircuitParams,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub table_sets: usize,
    /// Terms per row of the MAC gate (0: constant-weight dot products use halo2-base's
    /// inner product) and the number of its column groups.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mac_width: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mac_sets: usize,
    /// The MAC gate's layout, [`MAC_LAYOUT`] whenever `mac_sets > 0`: shapes planned for
    /// an earlier layout (0, the row-wise one) cannot be built and must be planned again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mac_layout: usize,
    /// Constraint degree the system is raised to (0: the gates' own, 4). At 5 each
    /// permutation product covers 3 columns instead of 2, on the same extended domain, at
    /// the cost of one more quotient piece: see [`crate::cost::LayoutStats::degree`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub degree: usize,
    /// The range checks' lookups share the function table's lookup argument (range table
    /// `[0, 2^lookup_bits)` as table 0, see [`crate::chips::table`]); `base` then has
    /// no lookup advice columns of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub range_in_table: bool,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl std::ops::Deref for ModelParams {
    type Target = BaseCircuitParams;
    fn deref(&self) -> &BaseCircuitParams {
        &self.base
    }
}

impl CircuitShape {
    /// Checks that the shape configures what its circuit relies on: range checks looked
    /// up somewhere (a shape read back from a key cache is not trusted), a MAC gate of
    /// this build's layout. [`crate::ModelCircuit::build`] and every reader of a stored shape
    /// call it.
    pub fn validate(&self) -> Result<(), ShapeError> {
        self.params.validate()
    }
}

/// Why a [`CircuitShape`] cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("lookup_bits = {lookup_bits} must be at least 1 and below k = {k}")]
    LookupBits { lookup_bits: usize, k: usize },
    #[error("the shape has range-check lookup columns but no lookup_bits: its range checks would be configured nowhere")]
    LookupColumnsWithoutBits,
    #[error("the shape has lookup_bits and function tables but neither range-check lookup columns nor range_in_table: its range checks would be vacuous")]
    RangeChecksNowhere,
    #[error("the shape looks range checks up in a function table it does not have, or also in lookup columns of its own")]
    RangeInTable,
    #[error("the shape has no advice column, or not exactly one instance column")]
    Columns,
    #[error("the shape was planned for an earlier MAC gate layout: compile the model again")]
    MacLayout,
}

impl ModelParams {
    /// See [`CircuitShape::validate`].
    pub fn validate(&self) -> Result<(), ShapeError> {
        let b = &self.base;
        let lookup_columns: usize = b.num_lookup_advice_per_phase.iter().sum();
        if let Some(bits) = b.lookup_bits {
            if bits == 0 || bits >= b.k {
                return Err(ShapeError::LookupBits { lookup_bits: bits, k: b.k });
            }
        } else if lookup_columns > 0 {
            return Err(ShapeError::LookupColumnsWithoutBits);
        }
        if self.range_in_table {
            if self.table_sets == 0 || b.lookup_bits.is_none() || lookup_columns > 0 {
                return Err(ShapeError::RangeInTable);
            }
        } else if b.lookup_bits.is_some() && lookup_columns == 0 && self.table_sets > 0 {
            return Err(ShapeError::RangeChecksNowhere);
        }
        if b.num_advice_per_phase.first().is_none_or(|n| *n == 0) || b.num_instance_columns != 1 {
            return Err(ShapeError::Columns);
        }
        if self.mac_sets > 0 && (self.mac_layout != MAC_LAYOUT || self.mac_width == 0) {
            return Err(ShapeError::MacLayout);
        }
        Ok(())
    }
}
