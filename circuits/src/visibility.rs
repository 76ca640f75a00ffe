//! Which model values the proof makes public.

use serde::{Deserialize, Serialize};

/// How one kind of value (inputs, outputs) appears in the proof.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Public instances (packed, see [`crate::public`]).
    #[default]
    Public,
    /// Private witness: the proof shows a valid value exists, not which.
    Private,
    /// Private witness, committed to by ONE public instance: the Poseidon hash of the
    /// values in order, packed as public values are ([`crate::hash`]). A verifier who
    /// knows the values checks them against that instance with
    /// [`crate::hash::hash_packed`].
    Hashed,
}

impl std::str::FromStr for Visibility {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public" => Ok(Visibility::Public),
            "private" => Ok(Visibility::Private),
            "hashed" => Ok(Visibility::Hashed),
            other => Err(format!("unknown visibility `{other}` (public, private or hashed)")),
        }
    }
}

/// How the model parameters (weights and biases, see
/// `zkinfer_models::quant::QuantGraph::params`) appear in the circuit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamVisibility {
    /// Constants in fixed columns: the verifying key binds the weights.
    #[default]
    Fixed,
    /// Private witness cells: the verifying key does not depend on the weights, and
    /// nothing binds them (any weights of this architecture make a valid proof).
    Private,
    /// Private witness cells, committed to by one public instance: the Poseidon hash of
    /// the parameters in canonical order ([`crate::hash`]).
    Hashed,
}

impl ParamVisibility {
    /// Whether the parameters are constants of the circuit.
    pub fn is_fixed(&self) -> bool {
        *self == ParamVisibility::Fixed
    }
}

impl std::str::FromStr for ParamVisibility {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fixed" => Ok(ParamVisibility::Fixed),
            "private" => Ok(ParamVisibility::Private),
            "hashed" => Ok(ParamVisibility::Hashed),
            other => Err(format!("unknown parameter visibility `{other}` (fixed, private or hashed)")),
        }
    }
}

/// Visibility of inputs, outputs and parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisibilityConfig {
    pub inputs: Visibility,
    pub outputs: Visibility,
    /// Absent (fixed) in settings written before parameters could be private.
    #[serde(default, skip_serializing_if = "ParamVisibility::is_fixed")]
    pub params: ParamVisibility,
}

impl VisibilityConfig {
    /// Numbers of public input values and public output values for a graph: the values
    /// packed into instances (hashed values are not counted, see [`crate::instances`]).
    pub fn public_counts(&self, graph: &zkinfer_models::QuantGraph) -> (usize, usize) {
        let count = |ports: &[zkinfer_models::quant::QPort]| ports.iter().map(|p| p.shape.iter().product::<usize>()).sum();
        let n_in = if self.inputs == Visibility::Public { count(&graph.inputs) } else { 0 };
        let n_out = if self.outputs == Visibility::Public { count(&graph.outputs) } else { 0 };
        (n_in, n_out)
    }
}
