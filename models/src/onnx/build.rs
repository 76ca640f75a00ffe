//! The graph under construction during import: values, constants and nodes, with the
//! expansion of each imported ONNX node (one op, a constant, one result per output, or a
//! sub-graph of several ops) and constant folding.

use std::collections::{BTreeMap, HashMap};

use crate::error::{ModelError, Result};
use crate::ir::{Graph, Node, Value, ValueId};
use crate::ops::{Imported, Op, Ref, Step, Subgraph};
use crate::tensor::{numel, DType, Tensor};

/// Values, constants and nodes imported so far.
#[derive(Default)]
pub(super) struct Builder {
    values: Vec<Value>,
    /// ONNX names of the values the file defines (internal sub-graph values are not here).
    by_name: HashMap<String, ValueId>,
    constants: BTreeMap<ValueId, Tensor>,
    nodes: Vec<Node>,
}

/// The ONNX node being imported, for naming and errors.
pub(super) struct NodeRef<'a> {
    pub name: &'a str,
    pub op_type: &'a str,
    /// Its input values, `None` for an omitted optional input.
    pub inputs: &'a [Option<ValueId>],
    /// Its output names (`""` for an omitted optional output).
    pub outputs: &'a [String],
}

impl NodeRef<'_> {
    fn err(&self, m: impl Into<String>) -> ModelError {
        ModelError::node(self.name, self.op_type, m)
    }

    fn input(&self, k: usize) -> Result<ValueId> {
        self.inputs.get(k).copied().flatten().ok_or_else(|| self.err(format!("missing input {k}")))
    }
}

impl Builder {
    /// The value named `name` in the file.
    pub fn lookup(&self, name: &str) -> Option<ValueId> {
        self.by_name.get(name).copied()
    }

    /// Shape of a value.
    pub fn shape(&self, id: ValueId) -> &[usize] {
        &self.values[id].shape
    }

    /// The constant behind a value, if it is one.
    pub fn constant(&self, id: ValueId) -> Option<&Tensor> {
        self.constants.get(&id)
    }

    /// Adds a value; `named`: reachable by its name from later ONNX nodes.
    pub fn add_value(&mut self, name: String, shape: Vec<usize>, dtype: DType, named: bool) -> ValueId {
        let id = self.values.len();
        if named {
            self.by_name.insert(name.clone(), id);
        }
        self.values.push(Value { name, shape, dtype });
        id
    }

    /// Adds a constant value.
    pub fn add_constant(&mut self, name: String, t: Tensor, named: bool) -> ValueId {
        let id = self.add_value(name, t.shape.clone(), t.dtype, named);
        self.constants.insert(id, t);
        id
    }

    /// Adds `op` over `inputs` as node `node_name` with output value `out_name`; evaluated
    /// once (on zero placeholders for non-constant inputs) for its shape, and folded to a
    /// constant when every input is constant.
    fn add_op(
        &mut self,
        node: &NodeRef,
        node_name: String,
        op: Op,
        inputs: Vec<ValueId>,
        out_name: String,
        named: bool,
    ) -> Result<ValueId> {
        let all_const = inputs.iter().all(|id| self.constants.contains_key(id));
        let placeholders: Vec<Tensor> = inputs
            .iter()
            .map(|&id| {
                self.constants.get(&id).cloned().unwrap_or_else(|| {
                    let v = &self.values[id];
                    Tensor::new(v.shape.clone(), vec![0.0; numel(&v.shape)], v.dtype)
                })
            })
            .collect();
        let refs: Vec<&Tensor> = placeholders.iter().collect();
        let out = op.eval(&refs).map_err(|e| match e {
            ModelError::Shape(m) => ModelError::node(&node_name, node.op_type, m),
            other => other,
        })?;
        if all_const {
            return Ok(self.add_constant(out_name, out, named));
        }
        let id = self.add_value(out_name, out.shape.clone(), out.dtype, named);
        self.nodes.push(Node { name: node_name, op, inputs, output: id });
        Ok(id)
    }

    /// Adds what importing `node` produced, binding its outputs by name.
    pub fn add_imported(&mut self, node: &NodeRef, imported: Imported) -> Result<()> {
        let results = match imported {
            Imported::Subgraph(sg) => return self.add_subgraph(node, sg),
            Imported::Multi(parts) => {
                if parts.len() != node.outputs.len() {
                    return Err(node.err(format!("{} results for {} outputs", parts.len(), node.outputs.len())));
                }
                parts
            }
            single => {
                if node.outputs.iter().skip(1).any(|o| !o.is_empty()) && node.op_type != "Dropout" {
                    return Err(ModelError::UnsupportedOp {
                        op_type: node.op_type.to_string(),
                        node: node.name.to_string(),
                        detail: " with more than one output".into(),
                    });
                }
                vec![single]
            }
        };
        for (k, result) in results.into_iter().enumerate() {
            let out_name = node.outputs.get(k).cloned().unwrap_or_default();
            let node_name = if k == 0 { node.name.to_string() } else { format!("{}:{k}", node.name) };
            match result {
                Imported::Constant(t) => {
                    self.add_constant(out_name, t, true);
                }
                Imported::Op { op, inputs } => {
                    let ids = inputs.iter().map(|&k| node.input(k)).collect::<Result<_>>()?;
                    self.add_op(node, node_name, op, ids, out_name, true)?;
                }
                Imported::Multi(_) | Imported::Subgraph(_) => return Err(node.err("nested multi-output import")),
            }
        }
        Ok(())
    }

    /// Adds the steps of a sub-graph as values `{node}/{suffix}`, then gives each bound
    /// output its ONNX name (through an identity when the value is a node input or
    /// already bound to another output).
    fn add_subgraph(&mut self, node: &NodeRef, sg: Subgraph) -> Result<()> {
        if sg.outputs.len() > node.outputs.len() {
            return Err(node.err(format!("{} results for {} outputs", sg.outputs.len(), node.outputs.len())));
        }
        let mut ids: Vec<ValueId> = Vec::with_capacity(sg.steps.len());
        let resolve = |ids: &[ValueId], r: Ref| match r {
            Ref::Input(k) => node.input(k),
            Ref::Step(i) => ids.get(i).copied().ok_or_else(|| node.err(format!("step {i} is used before it is defined"))),
        };
        for (suffix, step) in sg.steps {
            let name = format!("{}/{suffix}", node.name);
            let id = match step {
                Step::Constant(t) => self.add_constant(name, t, false),
                Step::Op { op, inputs } => {
                    let ins = inputs.iter().map(|&r| resolve(&ids, r)).collect::<Result<_>>()?;
                    self.add_op(node, name.clone(), op, ins, name, false)?
                }
            };
            ids.push(id);
        }
        let mut bound: Vec<ValueId> = Vec::new();
        for (k, out_name) in node.outputs.iter().enumerate() {
            if out_name.is_empty() {
                continue;
            }
            let r = sg.outputs.get(k).copied().flatten().ok_or_else(|| node.err(format!("output {k} is not produced")))?;
            let id = resolve(&ids, r)?;
            if matches!(r, Ref::Input(_)) || bound.contains(&id) {
                let op = Op::Layout(crate::ops::Layout::Reshape { shape: self.values[id].shape.clone() });
                self.add_op(node, format!("{}:{k}", node.name), op, vec![id], out_name.clone(), true)?;
                continue;
            }
            self.values[id].name = out_name.clone();
            self.by_name.insert(out_name.clone(), id);
            bound.push(id);
        }
        Ok(())
    }

    /// The finished graph.
    pub fn finish(self, inputs: Vec<ValueId>, outputs: Vec<ValueId>) -> Graph {
        Graph { values: self.values, inputs, outputs, nodes: self.nodes, constants: self.constants }
    }
}
