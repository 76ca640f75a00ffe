//! Gemm and MatMul.
//!
//! Both are described by a [`ProductSum`]: for each output element, the list of
//! (left index, right index) pairs whose products are summed. The float evaluator and
//! the quantizer (which turns the constant side into integer coefficients) share it.

use serde::{Deserialize, Serialize};

use super::{broadcast_index, broadcast_shapes, Imported, NodeCtx, Op, Registry};
use crate::error::{ModelError, Result};
use crate::tensor::{numel, Tensor};

/// Registers Gemm and MatMul.
pub fn register(r: &mut Registry) {
    r.insert("Gemm", import_gemm);
    r.insert("MatMul", import_matmul);
}

/// Linear-algebra ops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Linear {
    /// `Y = alpha * op(A) * op(B) + beta * C`, `C` optional and broadcast to `Y`.
    Gemm { alpha: f64, beta: f64, trans_a: bool, trans_b: bool },
    /// Numpy `matmul` with batch broadcasting.
    MatMul,
}

fn import_gemm(ctx: &NodeCtx) -> Result<Imported> {
    if !(2..=3).contains(&ctx.num_inputs()) {
        return Err(ctx.err("Gemm takes 2 or 3 inputs"));
    }
    let op = Linear::Gemm {
        alpha: ctx.attrs.float_or("alpha", 1.0) as f64,
        beta: ctx.attrs.float_or("beta", 1.0) as f64,
        trans_a: ctx.attrs.int_or("transA", 0) != 0,
        trans_b: ctx.attrs.int_or("transB", 0) != 0,
    };
    let inputs = (0..ctx.num_inputs()).filter(|i| ctx.inputs[*i].is_some()).collect();
    Ok(Imported::Op { op: Op::Linear(op), inputs })
}

fn import_matmul(ctx: &NodeCtx) -> Result<Imported> {
    if ctx.num_inputs() != 2 {
        return Err(ctx.err("MatMul takes 2 inputs"));
    }
    Ok(Imported::Op { op: Op::Linear(Linear::MatMul), inputs: vec![0, 1] })
}

/// The structure of a linear op: `out[o] = alpha * sum(a[l] * b[r] for (l, r) in pairs[o])
/// + beta * c[bias[o]]`.
#[derive(Clone, Debug)]
pub struct ProductSum {
    pub out_shape: Vec<usize>,
    pub alpha: f64,
    /// CSR offsets into `left`/`right`: output `o` uses `offsets[o]..offsets[o + 1]`.
    pub offsets: Vec<usize>,
    pub left: Vec<u32>,
    pub right: Vec<u32>,
    /// Per output, the flat index into the bias input, with its factor `beta`.
    pub bias: Option<(Vec<usize>, f64)>,
}

impl Linear {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            Linear::Gemm { .. } => "Gemm",
            Linear::MatMul => "MatMul",
        }
    }

    /// The product-sum structure for these input shapes.
    pub fn structure(&self, shapes: &[&[usize]]) -> Result<ProductSum> {
        match self {
            Linear::MatMul => matmul_structure(shapes[0], shapes[1]),
            Linear::Gemm { alpha, beta, trans_a, trans_b } => {
                let (a, b) = (shapes[0], shapes[1]);
                if a.len() != 2 || b.len() != 2 {
                    return Err(ModelError::Shape(format!("Gemm needs 2-D inputs, got {a:?} and {b:?}")));
                }
                let (m, k) = if *trans_a { (a[1], a[0]) } else { (a[0], a[1]) };
                let (k2, n) = if *trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
                if k != k2 {
                    return Err(ModelError::Shape(format!("Gemm inner dimensions differ: {a:?} x {b:?}")));
                }
                let a_idx = |i: usize, kk: usize| if *trans_a { kk * m + i } else { i * k + kk };
                let b_idx = |kk: usize, j: usize| if *trans_b { j * k + kk } else { kk * n + j };
                let mut ps = ProductSum::with_capacity(vec![m, n], *alpha, m * n * k);
                for i in 0..m {
                    for j in 0..n {
                        for kk in 0..k {
                            ps.left.push(a_idx(i, kk) as u32);
                            ps.right.push(b_idx(kk, j) as u32);
                        }
                        ps.offsets.push(ps.left.len());
                    }
                }
                if let Some(c) = shapes.get(2) {
                    if broadcast_shapes(c, &[m, n]).as_deref() != Some(&[m, n][..]) {
                        return Err(ModelError::Shape(format!("Gemm bias {c:?} does not broadcast to [{m}, {n}]")));
                    }
                    ps.bias = Some((broadcast_index(c, &[m, n]), *beta));
                }
                Ok(ps)
            }
        }
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape.as_slice()).collect();
        Ok(self.structure(&shapes)?.eval(inputs))
    }
}

impl ProductSum {
    /// An empty structure (no outputs yet) of the given output shape.
    pub fn new(out_shape: Vec<usize>, alpha: f64) -> ProductSum {
        ProductSum::with_capacity(out_shape, alpha, 0)
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when there is no output.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Float evaluation on (left, right[, bias]) inputs.
    pub fn eval(&self, inputs: &[&Tensor]) -> Tensor {
        let (a, b) = (&inputs[0].data, &inputs[1].data);
        let mut out = Vec::with_capacity(self.len());
        for o in 0..self.len() {
            let mut acc = 0.0;
            for t in self.offsets[o]..self.offsets[o + 1] {
                acc += a[self.left[t] as usize] * b[self.right[t] as usize];
            }
            let mut v = self.alpha * acc;
            if let Some((idx, beta)) = &self.bias {
                v += beta * inputs[2].data[idx[o]];
            }
            out.push(v);
        }
        Tensor::new(self.out_shape.clone(), out, inputs[0].dtype)
    }

    fn with_capacity(out_shape: Vec<usize>, alpha: f64, terms: usize) -> ProductSum {
        let mut offsets = Vec::with_capacity(numel(&out_shape) + 1);
        offsets.push(0);
        ProductSum { out_shape, alpha, offsets, left: Vec::with_capacity(terms), right: Vec::with_capacity(terms), bias: None }
    }
}

fn matmul_structure(a: &[usize], b: &[usize]) -> Result<ProductSum> {
    if a.is_empty() || b.is_empty() {
        return Err(ModelError::Shape("MatMul of a scalar".into()));
    }
    // Promote 1-D operands as numpy does.
    let a2: Vec<usize> = if a.len() == 1 { vec![1, a[0]] } else { a.to_vec() };
    let b2: Vec<usize> = if b.len() == 1 { vec![b[0], 1] } else { b.to_vec() };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return Err(ModelError::Shape(format!("MatMul inner dimensions differ: {a:?} x {b:?}")));
    }
    let batch_a = &a2[..a2.len() - 2];
    let batch_b = &b2[..b2.len() - 2];
    let batch = broadcast_shapes(batch_a, batch_b)
        .ok_or_else(|| ModelError::Shape(format!("MatMul batch dims do not broadcast: {a:?} x {b:?}")))?;
    let ia = broadcast_index(batch_a, &batch);
    let ib = broadcast_index(batch_b, &batch);
    let mut out_shape = batch.clone();
    if a.len() > 1 {
        out_shape.push(m);
    }
    if b.len() > 1 {
        out_shape.push(n);
    }
    let nb = numel(&batch);
    let mut ps = ProductSum::with_capacity(out_shape, 1.0, nb * m * n * k);
    for bi in 0..nb {
        let (oa, ob) = (ia[bi] * m * k, ib[bi] * k * n);
        for i in 0..m {
            for j in 0..n {
                for kk in 0..k {
                    ps.left.push((oa + i * k + kk) as u32);
                    ps.right.push((ob + kk * n + j) as u32);
                }
                ps.offsets.push(ps.left.len());
            }
        }
    }
    Ok(ps)
}
