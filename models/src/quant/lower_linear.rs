//! Lowering of products and element-wise arithmetic: Gemm, MatMul, Conv,
//! ConvTranspose, Add, Sub, Mul, Div, Neg, Sum, Mean, Max, Min, PRelu.

use super::lower::{unsupported, Builder};
use super::{QOp, QValueId};
use crate::error::Result;
use crate::ir::Node;
use crate::ops::arith::broadcast_all;
use crate::ops::linear::ProductSum;
use crate::ops::{Arith, Op};

pub(super) fn lower(b: &mut Builder, node: &Node) -> Result<QValueId> {
    let g = b.graph;
    let shapes: Vec<&[usize]> = node.inputs.iter().map(|&i| g.shape(i)).collect();
    match &node.op {
        Op::Linear(l) => product_sum(b, node, l.structure(&shapes)?),
        Op::Conv(c) => product_sum(b, node, c.structure(&shapes)?),
        Op::Arith(a) => arith(b, node, *a, &shapes),
        _ => unreachable!("dispatched by family"),
    }
}

/// A [`ProductSum`] with one constant side becomes a `Linear` over the activation side;
/// with two activation sides a `Bilinear`.
fn product_sum(b: &mut Builder, node: &Node, ps: ProductSum) -> Result<QValueId> {
    let g = b.graph;
    let c = |i: usize| node.inputs.get(i).and_then(|&v| g.constant(v));
    match (c(0), c(1)) {
        (None, None) => {
            if ps.alpha != 1.0 || ps.bias.is_some() {
                return Err(unsupported(node, "a product of two activations with alpha or bias"));
            }
            let (x, y) = (b.value(node.inputs[0]), b.value(node.inputs[1]));
            Ok(b.bilin(&node.name, x, y, ps.offsets, ps.left, ps.right))
        }
        (a_const, b_const) => {
            let (act, w, act_idx, w_idx) = match (a_const, b_const) {
                (None, Some(w)) => (node.inputs[0], w, &ps.left, &ps.right),
                (Some(w), None) => (node.inputs[1], w, &ps.right, &ps.left),
                _ => unreachable!("constant-only nodes are folded at import"),
            };
            let x = b.value(act);
            let bias_in = ps.bias.as_ref().map(|(idx, beta)| (node.inputs[2], idx, *beta));
            let bias_act = bias_in.filter(|(v, _, _)| g.constant(*v).is_none()).map(|(v, _, _)| b.value(v));
            let mut t = b.terms(true);
            for o in 0..ps.len() {
                for k in ps.offsets[o]..ps.offsets[o + 1] {
                    t.param(x, act_idx[k] as usize, ps.alpha * w.data[w_idx[k] as usize]);
                }
                match bias_in {
                    Some((v, idx, beta)) => match (g.constant(v), bias_act) {
                        (Some(ct), _) => t.end_param(beta * ct.data[idx[o]]),
                        (None, Some(bq)) => {
                            t.term(bq, idx[o], beta);
                            t.end(0.0)
                        }
                        _ => unreachable!(),
                    },
                    None => t.end(0.0),
                }
            }
            Ok(b.lin(&node.name, t))
        }
    }
}

/// Whether every element of `v` is `>= 0` for every input: the output of a
/// [`QOp::Sqrt`] (a root, `0 <= y < 2^sqrt_bits(bits, scale) <= 2^bits`; no witness
/// otherwise). A divisor with this property may take `QOp::Div { positive: true }`: the
/// two kinds differ only on negative divisors (`positive` refuses them, the general one
/// divides by `|b|` and negates), both refuse `b = 0`, and both admit `b < 2^bits`,
/// so the interpreter gives the same result or the same refusal for every input.
fn never_negative(b: &Builder, v: QValueId) -> bool {
    matches!(b.producer(v), Some(QOp::Sqrt { scale, .. }) if *scale <= b.cal.bits)
}

fn arith(b: &mut Builder, node: &Node, a: Arith, shapes: &[&[usize]]) -> Result<QValueId> {
    let g = b.graph;
    let (_, maps) = broadcast_all(shapes)?;
    let n = maps[0].len();
    let consts: Vec<_> = node.inputs.iter().map(|&i| g.constant(i)).collect();
    let name = node.name.as_str();
    match a {
        Arith::Add | Arith::Sub | Arith::Neg | Arith::Sum | Arith::Mean => {
            let k = node.inputs.len() as f64;
            let sign = |i: usize| -> f64 {
                match a {
                    Arith::Sub if i == 1 => -1.0,
                    Arith::Neg => -1.0,
                    Arith::Mean => 1.0 / k,
                    _ => 1.0,
                }
            };
            let vals: Vec<Option<QValueId>> =
                node.inputs.iter().enumerate().map(|(i, &v)| consts[i].is_none().then(|| b.value(v))).collect();
            let mut t = b.terms(false);
            let has_const = vals.iter().any(|v| v.is_none());
            for o in 0..n {
                let mut bias = 0.0;
                for (i, v) in vals.iter().enumerate() {
                    match v {
                        Some(v) => t.term(*v, maps[i][o], sign(i)),
                        None => bias += sign(i) * consts[i].unwrap().data[maps[i][o]],
                    }
                }
                if has_const {
                    t.end_param(bias)
                } else {
                    t.end(bias)
                }
            }
            Ok(b.lin(name, t))
        }
        Arith::Mul | Arith::Div => match (consts[0], consts[1]) {
            (None, None) => {
                let (x, y) = (b.value(node.inputs[0]), b.value(node.inputs[1]));
                let positive = never_negative(b, y);
                let (xs, ys) = (b.gather(&format!("{name}:a"), x, &maps[0]), b.gather(&format!("{name}:b"), y, &maps[1]));
                Ok(if a == Arith::Mul { b.mul(name, xs, ys) } else { b.emit(name, QOp::Div { scale: b.s(), positive }, vec![xs, ys], n) })
            }
            (Some(cx), None) if a == Arith::Div => {
                let y = b.value(node.inputs[1]);
                let positive = never_negative(b, y);
                let ys = b.gather(&format!("{name}:b"), y, &maps[1]);
                let xc: Vec<i64> = maps[0].iter().map(|&i| super::lower::q(cx.data[i], b.s())).collect();
                let xs = b.consts(&format!("{name}:a"), xc);
                Ok(b.emit(name, QOp::Div { scale: b.s(), positive }, vec![xs, ys], n))
            }
            (cx, cy) => {
                let (act, w, am, wm) = match (cx, cy) {
                    (_, Some(w)) => (node.inputs[0], w, &maps[0], &maps[1]),
                    (Some(w), None) => (node.inputs[1], w, &maps[1], &maps[0]),
                    _ => unreachable!(),
                };
                let x = b.value(act);
                let mut t = b.terms(false);
                for o in 0..n {
                    let c = w.data[wm[o]];
                    if a == Arith::Div && c == 0.0 {
                        return Err(unsupported(node, "division by a constant zero"));
                    }
                    t.param(x, am[o], if a == Arith::Mul { c } else { 1.0 / c });
                    t.end(0.0);
                }
                Ok(b.lin(name, t))
            }
        },
        Arith::PRelu => {
            let slope = consts[1].ok_or_else(|| unsupported(node, "a non-constant slope"))?;
            let x = b.value(node.inputs[0]);
            let xb = b.gather(&format!("{name}:x"), x, &maps[0]);
            let r = b.relu(&format!("{name}:relu"), xb);
            let mut t = b.terms(false);
            for o in 0..n {
                let sl = slope.data[maps[1][o]];
                t.param(xb, o, sl);
                t.param(r, o, 1.0 - sl);
                t.end(0.0);
            }
            Ok(b.lin(name, t))
        }
        Arith::Max | Arith::Min => {
            let ins: Vec<QValueId> = node.inputs.iter().map(|&v| b.value(v)).collect();
            let k = ins.len();
            let maps = &maps;
            let map = (0..n).flat_map(|o| (0..k).map(move |i| (i as u32, maps[i][o] as u32))).collect::<Vec<_>>();
            let all = b.select(&format!("{name}:all"), ins, map);
            let op = QOp::Reduce {
                max: a == Arith::Max,
                arg: false,
                strict: false,
                offsets: (0..=n).map(|o| o * k).collect(),
                idx: (0..(n * k) as u32).collect(),
                one: b.one(),
            };
            Ok(b.emit(name, op, vec![all], n))
        }
        Arith::Pow => Err(unsupported(node, "Pow with a non-constant exponent")),
    }
}
