//! ONNX ops, registered by family (one file per family, as in tract's `onnx/src/ops`).
//!
//! Each family file provides `register(&mut Registry)` that maps ONNX op types to an
//! importer, and the float semantics of its ops (`eval`), which serve constant folding,
//! shape inference (ops are evaluated once on placeholder tensors) and calibration.

pub mod activation;
pub mod arith;
pub mod attrs;
pub mod conv;
pub mod elements;
pub mod layout;
pub mod linear;
pub mod logic;
pub mod norm;
pub mod pointwise;
pub mod recurrent;
pub mod reduce;
pub mod remap;
pub mod source;
pub mod topk;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use attrs::Attrs;

use crate::error::{ModelError, Result};
use crate::tensor::Tensor;

pub use activation::Activation;
pub use arith::Arith;
pub use conv::ConvSpec;
pub use elements::{Elements, OneHot};
pub use layout::Layout;
pub use linear::Linear;
pub use logic::Logic;
pub use norm::Norm;
pub use reduce::{Reduce, ReduceKind};
pub use remap::Remap;

/// An output shape and, per output element, the `(input slot, flat index)` it is read from.
pub type SourceMap = (Vec<usize>, Vec<(usize, usize)>);

/// A graph operation, grouped by family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Gemm and MatMul.
    Linear(Linear),
    /// Element-wise Add, Sub, Mul, Neg, Sum with broadcasting.
    Arith(Arith),
    /// Point-wise non-linear functions (Relu).
    Activation(Activation),
    /// Pure data movement: Reshape, Flatten, Transpose, Concat, Slice, Squeeze, ...
    Layout(Layout),
    /// Conv and ConvTranspose.
    Conv(ConvSpec),
    /// Reductions, ArgMax/ArgMin and pooling.
    Reduce(Reduce),
    /// Batch/Layer/Instance normalisation, Softmax, LogSoftmax.
    Norm(Norm),
    /// Comparisons, boolean logic, Where.
    Logic(Logic),
    /// Index maps with fixed indices: Pad, Gather, Resize, Tile, Expand, DepthToSpace.
    Remap(Remap),
    /// GatherElements and ScatterElements.
    Elements(Elements),
    /// OneHot with constant depth and values.
    OneHot(OneHot),
    /// TopK with a constant k (one op per output).
    TopK(topk::TopK),
    /// A fused chain of element-wise ops over one input ([`crate::passes::fuse_pointwise`]).
    Pointwise(pointwise::Pointwise),
}

impl Op {
    /// The op's name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Linear(l) => l.name(),
            Op::Arith(a) => a.name(),
            Op::Activation(a) => a.name(),
            Op::Layout(l) => l.name(),
            Op::Conv(c) => c.name(),
            Op::Reduce(r) => r.name(),
            Op::Norm(n) => n.name(),
            Op::Logic(l) => l.name(),
            Op::Remap(r) => r.name(),
            Op::Elements(e) => e.name(),
            Op::OneHot(_) => "OneHot",
            Op::TopK(t) => t.name(),
            Op::Pointwise(_) => "Pointwise",
        }
    }

    /// Float semantics of the op.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        match self {
            Op::Linear(l) => l.eval(inputs),
            Op::Arith(a) => a.eval(inputs),
            Op::Activation(a) => a.eval(inputs),
            Op::Layout(l) => l.eval(inputs),
            Op::Conv(c) => c.eval(inputs),
            Op::Reduce(r) => r.eval(inputs),
            Op::Norm(n) => n.eval(inputs),
            Op::Logic(l) => l.eval(inputs),
            Op::Remap(r) => r.eval(inputs),
            Op::Elements(e) => e.eval(inputs),
            Op::OneHot(o) => o.eval(inputs),
            Op::TopK(t) => t.eval(inputs),
            Op::Pointwise(p) => p.eval(inputs),
        }
    }
}

macro_rules! op_from_family {
    ($($family:ident),*) => {
        $(impl From<$family> for Op {
            fn from(x: $family) -> Op {
                Op::$family(x)
            }
        })*
    };
}
op_from_family!(Linear, Arith, Activation, Layout);

/// What an importer sees of a node: its attributes and its inputs, the constant ones
/// with their values.
pub struct NodeCtx<'a> {
    pub name: &'a str,
    pub op_type: &'a str,
    pub opset: i64,
    pub attrs: Attrs<'a>,
    /// One entry per ONNX input; `None` for an omitted optional input.
    pub inputs: Vec<Option<InputInfo<'a>>>,
    /// Number of outputs the node declares.
    pub num_outputs: usize,
}

/// A node input as the importer sees it.
pub struct InputInfo<'a> {
    pub shape: &'a [usize],
    pub constant: Option<&'a Tensor>,
}

impl<'a> NodeCtx<'a> {
    /// An error about this node.
    pub fn err(&self, message: impl Into<String>) -> ModelError {
        ModelError::node(self.name, self.op_type, message)
    }

    /// The constant value of input `i`, or an error saying it must be constant.
    pub fn const_input(&self, i: usize) -> Result<&'a Tensor> {
        self.inputs
            .get(i)
            .and_then(|x| x.as_ref())
            .and_then(|x| x.constant)
            .ok_or_else(|| self.err(format!("input {i} must be a compile-time constant")))
    }

    /// Constant input `i` as integers, or `None` when the input is omitted.
    pub fn opt_const_ints(&self, i: usize) -> Result<Option<Vec<i64>>> {
        match self.inputs.get(i) {
            None | Some(None) => Ok(None),
            Some(Some(_)) => Ok(Some(self.const_input(i)?.data.iter().map(|v| *v as i64).collect())),
        }
    }

    /// True when input `i` is present and constant.
    pub fn is_const(&self, i: usize) -> bool {
        matches!(self.inputs.get(i), Some(Some(InputInfo { constant: Some(_), .. })))
    }

    /// Number of present inputs.
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }
}

/// What importing a node produces.
pub enum Imported {
    /// A graph op over the node's inputs (which inputs it uses is given by position).
    Op { op: Op, inputs: Vec<usize> },
    /// A value known at compile time (Constant, Shape, ...).
    Constant(Tensor),
    /// One result per node output (Split).
    Multi(Vec<Imported>),
    /// Several graph ops with internal values (recurrent ops unrolled over time).
    Subgraph(Subgraph),
}

/// A value inside a [`Subgraph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// Input `k` of the ONNX node.
    Input(usize),
    /// The result of step `i` of the subgraph (an earlier step).
    Step(usize),
}

/// One step of a [`Subgraph`].
pub enum Step {
    /// A graph op over earlier values.
    Op { op: Op, inputs: Vec<Ref> },
    /// A value known at compile time.
    Constant(Tensor),
}

/// A node expanded into several graph ops over its inputs. Steps are in topological
/// order; the import names step `i`'s value and node `{node}/{suffix}`, folds steps whose
/// inputs are all constant, and binds each node output to the value `outputs` names.
#[derive(Default)]
pub struct Subgraph {
    /// (name suffix, step).
    pub steps: Vec<(String, Step)>,
    /// One entry per node output; `None` for an output that is not produced.
    pub outputs: Vec<Option<Ref>>,
}

impl Subgraph {
    /// Appends an op step and returns its value.
    pub fn op(&mut self, suffix: impl Into<String>, op: Op, inputs: Vec<Ref>) -> Ref {
        self.steps.push((suffix.into(), Step::Op { op, inputs }));
        Ref::Step(self.steps.len() - 1)
    }

    /// Appends a constant step and returns its value.
    pub fn constant(&mut self, suffix: impl Into<String>, t: Tensor) -> Ref {
        self.steps.push((suffix.into(), Step::Constant(t)));
        Ref::Step(self.steps.len() - 1)
    }
}

/// An importer for one ONNX op type.
pub type Importer = fn(&NodeCtx) -> Result<Imported>;

/// Maps ONNX op types to importers.
#[derive(Default)]
pub struct Registry {
    map: HashMap<&'static str, Importer>,
}

impl Registry {
    /// Registers an importer for an op type.
    pub fn insert(&mut self, op_type: &'static str, f: Importer) {
        self.map.insert(op_type, f);
    }

    /// The importer for an op type.
    pub fn get(&self, op_type: &str) -> Option<Importer> {
        self.map.get(op_type).copied()
    }

    /// Every supported op type, sorted.
    pub fn op_types(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.map.keys().copied().collect();
        v.sort();
        v
    }
}

/// The registry with every family registered.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    linear::register(&mut r);
    arith::register(&mut r);
    activation::register(&mut r);
    layout::register(&mut r);
    source::register(&mut r);
    conv::register(&mut r);
    reduce::register(&mut r);
    norm::register(&mut r);
    logic::register(&mut r);
    remap::register(&mut r);
    elements::register(&mut r);
    topk::register(&mut r);
    recurrent::register(&mut r);
    r
}

/// Numpy-style broadcast of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// For each element of `out_shape` (row-major), the flat index of the element of a
/// tensor of shape `shape` that broadcasting maps to it.
pub fn broadcast_index(shape: &[usize], out_shape: &[usize]) -> Vec<usize> {
    let n = out_shape.len();
    let offset = n - shape.len();
    let in_strides = crate::tensor::strides(shape);
    let total: usize = out_shape.iter().product();
    let mut idx = Vec::with_capacity(total);
    let mut coord = vec![0usize; n];
    for _ in 0..total {
        let mut flat = 0;
        for d in 0..shape.len() {
            if shape[d] != 1 {
                flat += coord[d + offset] * in_strides[d];
            }
        }
        idx.push(flat);
        for d in (0..n).rev() {
            coord[d] += 1;
            if coord[d] < out_shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    idx
}

/// Normalises a possibly negative axis against a rank.
pub fn norm_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r.max(1)).contains(&a).then_some(a as usize)
}
