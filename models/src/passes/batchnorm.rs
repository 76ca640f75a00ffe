//! Folding a BatchNormalization into the Conv, ConvTranspose or Gemm that alone feeds
//! it: the quantized model then has one rescale (and one range check) per element
//! fewer, and no rounding between the two affine maps.

use crate::ir::Graph;
use crate::ops::linear::Linear;
use crate::ops::norm::Norm;
use crate::ops::Op;
use crate::tensor::{numel, Tensor};

/// Folds each BatchNormalization into the Conv/ConvTranspose/Gemm that alone feeds it
/// (constant weights and bias, the intermediate value used nowhere else). Returns how
/// many were folded. Batch norms that do not qualify stay as per-channel affine ops.
pub fn fold_batch_norms(graph: &mut Graph) -> usize {
    let mut folded = 0;
    let mut n = 0;
    while n < graph.nodes.len() {
        if let Some(producer) = foldable(graph, n) {
            if fold(graph, producer, n) {
                folded += 1;
                continue; // node `n` was removed: the next node moved to `n`
            }
        }
        n += 1;
    }
    folded
}

/// The producer node of BatchNorm node `n`, when the pair can be folded.
fn foldable(graph: &Graph, n: usize) -> Option<usize> {
    let node = &graph.nodes[n];
    if !matches!(node.op, Op::Norm(Norm::Batch { .. })) || node.inputs.len() != 5 {
        return None;
    }
    if !node.inputs[1..].iter().all(|v| graph.constants.contains_key(v)) {
        return None;
    }
    let x = node.inputs[0];
    let uses = graph.nodes.iter().flat_map(|m| &m.inputs).filter(|&&v| v == x).count();
    if uses != 1 || graph.outputs.contains(&x) {
        return None;
    }
    let p = graph.nodes.iter().position(|m| m.output == x)?;
    let prod = &graph.nodes[p];
    let constant_params = prod.inputs[1..].iter().all(|v| graph.constants.contains_key(v));
    let kind_ok = match &prod.op {
        Op::Conv(_) => prod.inputs.len() >= 2,
        Op::Linear(Linear::Gemm { .. }) => prod.inputs.len() >= 2 && graph.shape(x).len() == 2,
        _ => false,
    };
    (kind_ok && constant_params).then_some(p)
}

/// Per-channel `(a, c)` of a batch norm: `y = a * x + c`.
fn affine(graph: &Graph, node: usize) -> (Vec<f64>, Vec<f64>) {
    let bn = &graph.nodes[node];
    let Op::Norm(Norm::Batch { epsilon }) = bn.op else { unreachable!("checked by foldable") };
    let p = |i: usize| &graph.constants[&bn.inputs[i]].data;
    let (scale, bias, mean, var) = (p(1), p(2), p(3), p(4));
    let a: Vec<f64> = scale.iter().zip(var).map(|(s, v)| s / (v + epsilon).sqrt()).collect();
    let c = bias.iter().zip(mean).zip(&a).map(|((b, m), a)| b - m * a).collect();
    (a, c)
}

/// Rewrites producer `p` to absorb BatchNorm `n` and removes `n`. `false` (nothing
/// changed) when the shapes do not line up with one channel per output feature.
fn fold(graph: &mut Graph, p: usize, n: usize) -> bool {
    let (a, c) = affine(graph, n);
    let channels = a.len();
    let x = graph.nodes[p].output;
    let out_shape = graph.shape(x).to_vec();
    if out_shape.len() < 2 || out_shape[1] != channels || c.len() != channels {
        return false;
    }
    let w_id = graph.nodes[p].inputs[1];
    let w = graph.constants[&w_id].clone();
    let bias = graph.nodes[p].inputs.get(2).map(|v| graph.constants[v].clone());
    let rewritten = match graph.nodes[p].op.clone() {
        Op::Conv(spec) => {
            // Output channel of each weight element: [C_out, ...] for Conv;
            // [C_in, C_out / group, ...] for ConvTranspose.
            let per: usize = w.shape[2..].iter().product();
            let channel_of = |i: usize| -> usize {
                if spec.transpose {
                    let (ci, j) = (i / (w.shape[1] * per), (i / per) % w.shape[1]);
                    let in_per_group = (w.shape[0] / spec.group.max(1)).max(1);
                    (ci / in_per_group) * w.shape[1] + j
                } else {
                    i / (numel(&w.shape) / w.shape[0])
                }
            };
            let out_channels = if spec.transpose { w.shape[1] * spec.group } else { w.shape[0] };
            if out_channels != channels {
                return false;
            }
            let wd = w.data.iter().enumerate().map(|(i, v)| v * a[channel_of(i)]).collect();
            let b0 = bias.map_or(vec![0.0; channels], |b| b.data);
            if b0.len() != channels {
                return false;
            }
            let bd = (0..channels).map(|o| b0[o] * a[o] + c[o]).collect();
            (Op::Conv(spec), Tensor::new(w.shape.clone(), wd, w.dtype), Tensor::new(vec![channels], bd, w.dtype))
        }
        Op::Linear(Linear::Gemm { alpha, beta, trans_a, trans_b }) => {
            // Column m of op(B) feeds output feature m.
            if w.shape.len() != 2 {
                return false;
            }
            let (rows, cols) = (w.shape[0], w.shape[1]);
            let feature = |i: usize| if trans_b { i / cols } else { i % cols };
            if (if trans_b { rows } else { cols }) != channels {
                return false;
            }
            let wd = w.data.iter().enumerate().map(|(i, v)| v * a[feature(i)]).collect();
            // beta * C broadcast to the output, or to one row when it does not vary by row.
            let bias_shape = match &bias {
                Some(b) if numel(&b.shape) == numel(&out_shape) => out_shape.clone(),
                _ => vec![channels],
            };
            let at = |i: usize| -> f64 {
                let Some(b) = &bias else { return 0.0 };
                match numel(&b.shape) {
                    1 => b.data[0],
                    len if len == channels => b.data[i % channels],
                    len if len == numel(&out_shape) => b.data[i],
                    _ => f64::NAN,
                }
            };
            let bd: Vec<f64> = (0..numel(&bias_shape)).map(|i| beta * at(i) * a[i % channels] + c[i % channels]).collect();
            if bd.iter().any(|v| v.is_nan()) {
                return false;
            }
            let op = Op::Linear(Linear::Gemm { alpha, beta: 1.0, trans_a, trans_b });
            (op, Tensor::new(w.shape.clone(), wd, w.dtype), Tensor::new(bias_shape, bd, w.dtype))
        }
        _ => return false,
    };
    let (op, weights, bias) = rewritten;
    let bn = graph.nodes.remove(n);
    let name = &bn.name;
    let w_new = graph.add_constant(format!("{name}/folded_weight"), weights);
    let b_new = graph.add_constant(format!("{name}/folded_bias"), bias);
    let prod = &mut graph.nodes[p];
    prod.op = op;
    prod.inputs = vec![prod.inputs[0], w_new, b_new];
    prod.output = bn.output;
    prod.name = format!("{}+{}", prod.name, name);
    true
}
