//! The graph IR: static shapes, constants folded, ops from [`crate::ops`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ops::Op;
use crate::tensor::{DType, Tensor};

/// Index of a value (a tensor edge) in [`Graph::values`].
pub type ValueId = usize;

/// A tensor edge of the graph with its static shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Value {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// One operation that depends on graph inputs (nodes on constants only are folded away).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Node {
    /// The ONNX node name (or `op_type#index` when the file has none).
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
}

/// A model with static shapes, in topological order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Graph {
    pub values: Vec<Value>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    pub nodes: Vec<Node>,
    /// Values known at compile time: initializers, `Constant` nodes and folded sub-graphs.
    pub constants: BTreeMap<ValueId, Tensor>,
}

impl Graph {
    /// The shape of a value.
    pub fn shape(&self, id: ValueId) -> &[usize] {
        &self.values[id].shape
    }

    /// The constant behind a value, if it is one.
    pub fn constant(&self, id: ValueId) -> Option<&Tensor> {
        self.constants.get(&id)
    }

    /// Adds a constant value (a pass's new weights, say) and returns its id.
    pub fn add_constant(&mut self, name: String, t: Tensor) -> ValueId {
        let id = self.values.len();
        self.values.push(Value { name, shape: t.shape.clone(), dtype: t.dtype });
        self.constants.insert(id, t);
        id
    }

    /// Op types used by the nodes, with counts, for reports.
    pub fn op_histogram(&self) -> BTreeMap<String, usize> {
        let mut h = BTreeMap::new();
        for n in &self.nodes {
            *h.entry(n.op.name().to_string()).or_insert(0) += 1;
        }
        h
    }
}
