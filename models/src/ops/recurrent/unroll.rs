//! The sub-graph of one recurrent node under construction: per-step cells over
//! existing ops.

use super::Spec;
use crate::error::Result;
use crate::ops::{Activation, Arith, Layout, Linear, NodeCtx, Op, Ref, Subgraph};
use crate::tensor::Tensor;

/// A recurrent state: known at compile time (the initial state) or a graph value.
#[derive(Clone)]
pub(super) enum State {
    Const(Tensor),
    Var(Ref),
}

/// `Y = A B^T (+ C)`.
pub(super) fn gemm_t() -> Op {
    Op::Linear(Linear::Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: true })
}

/// A constant matrix: its value (to fold a known state) and its step.
pub(super) struct Mat {
    t: Tensor,
    r: Ref,
}

/// The recurrence weights of one direction.
pub(super) enum Weights {
    /// LSTM and RNN: all of R.
    Single(Mat),
    /// GRU: R's `zr` and `h` blocks and the `h` recurrence bias.
    Gru { zr: Mat, h: Mat, rb_h: Mat },
}

/// Rows `a..b` of matrix `d` of a constant `[dirs, n, m]` tensor.
pub(super) fn matrix(t: &Tensor, d: usize, a: usize, b: usize) -> Tensor {
    let (n, m) = (t.shape[1], t.shape[2]);
    Tensor::new(vec![b - a, m], t.data[(d * n + a) * m..(d * n + b) * m].to_vec(), t.dtype)
}

/// The sub-graph under construction.
pub(super) struct Unroll<'s> {
    pub sg: Subgraph,
    pub s: &'s Spec,
}

impl Unroll<'_> {
    pub(super) fn op(&mut self, name: &str, op: impl Into<Op>, inputs: Vec<Ref>) -> Ref {
        self.sg.op(name, op.into(), inputs)
    }

    pub(super) fn mat(&mut self, name: &str, t: Tensor) -> Mat {
        let r = self.sg.constant(name, t.clone());
        Mat { t, r }
    }

    fn arith(&mut self, name: &str, a: Arith, x: Ref, y: Ref) -> Ref {
        self.sg.op(name, Op::Arith(a), vec![x, y])
    }

    pub(super) fn transpose(&mut self, name: &str, x: Ref, perm: Vec<usize>) -> Ref {
        self.op(name, Layout::Transpose { perm }, vec![x])
    }

    /// Indices `a..b` on `axis` of `x` (of shape `shape`).
    pub(super) fn slice(&mut self, name: &str, x: Ref, shape: &[usize], axis: usize, a: usize, b: usize) -> Ref {
        let mut starts = vec![0; shape.len()];
        starts[axis] = a as i64;
        let mut out = shape.to_vec();
        out[axis] = b - a;
        self.op(name, Layout::Slice { starts, steps: vec![1; shape.len()], shape: out }, vec![x])
    }

    /// Columns `a..b` of a `[batch, n]` value.
    fn cols(&mut self, name: &str, x: Ref, n: usize, a: usize, b: usize) -> Ref {
        self.slice(name, x, &[self.s.batch, n], 1, a, b)
    }

    /// A state as a value (a constant step when it is known).
    pub(super) fn state_ref(&mut self, name: &str, st: &State) -> Ref {
        match st {
            State::Var(r) => *r,
            State::Const(t) => self.sg.constant(name, t.clone()),
        }
    }

    /// `[batch, hidden]` pieces concatenated, reshaped to `shape` (time/direction major)
    /// and, with `layout = 1`, transposed by `perm` to batch-major.
    pub(super) fn stack(&mut self, name: &str, pieces: Vec<Ref>, shape: Vec<usize>, perm: Vec<usize>) -> Ref {
        let cat = self.op(&format!("{name}/concat"), Layout::Concat { axis: 0 }, pieces);
        let y = self.op(&format!("{name}/shape"), Layout::Reshape { shape }, vec![cat]);
        if self.s.batch_major {
            self.transpose(name, y, perm)
        } else {
            y
        }
    }

    /// The initial state of each direction from input `k` (`[dirs, batch, hidden]`, or
    /// batch-major), zero when omitted.
    pub(super) fn initial_state(&mut self, ctx: &NodeCtx, k: usize, what: &str) -> Result<Vec<State>> {
        let (dirs, batch, hidden) = (self.s.reverse.len(), self.s.batch, self.s.hidden);
        let Some(Some(info)) = ctx.inputs.get(k) else {
            return Ok(vec![State::Const(Tensor::new(vec![batch, hidden], vec![0.0; batch * hidden], self.s.dtype)); dirs]);
        };
        let expected = if self.s.batch_major { [batch, dirs, hidden] } else { [dirs, batch, hidden] };
        if info.shape != expected {
            return Err(ctx.err(format!("{what} has shape {:?}, expected {expected:?}", info.shape)));
        }
        let at = |d: usize, b: usize| if self.s.batch_major { b * dirs + d } else { d * batch + b };
        if let Some(t) = info.constant {
            return Ok((0..dirs)
                .map(|d| {
                    let data = (0..batch).flat_map(|b| t.data[at(d, b) * hidden..(at(d, b) + 1) * hidden].to_vec()).collect();
                    State::Const(Tensor::new(vec![batch, hidden], data, self.s.dtype))
                })
                .collect());
        }
        let x = if self.s.batch_major { self.transpose(what, Ref::Input(k), vec![1, 0, 2]) } else { Ref::Input(k) };
        Ok((0..dirs)
            .map(|d| {
                let sl = self.slice(&format!("{what}/d{d}"), x, &[dirs, batch, hidden], 0, d, d + 1);
                State::Var(self.op(&format!("{what}/d{d}/rows"), Layout::Reshape { shape: vec![batch, hidden] }, vec![sl]))
            })
            .collect())
    }

    /// `x + h R^T`: one Gemm with `x` as its bias when `h` is a value; with a known `h`
    /// the product is computed here (and dropped when zero).
    pub(super) fn recur(&mut self, name: &str, h: &State, r: &Mat, x: Ref) -> Result<Ref> {
        match h {
            State::Var(h) => Ok(self.op(name, gemm_t(), vec![*h, r.r, x])),
            State::Const(h0) => {
                let p = gemm_t().eval(&[h0, &r.t])?;
                if p.data.iter().all(|&v| v == 0.0) {
                    return Ok(x);
                }
                let c = self.sg.constant(format!("{name}/hR"), p);
                Ok(self.arith(name, Arith::Add, x, c))
            }
        }
    }

    /// One LSTM step (gates `iofc`): returns `(H_t, C_t)`.
    pub(super) fn lstm_step(&mut self, p: &str, acts: &[Activation], h: &State, c: &State, r: &Mat, xt: Ref) -> Result<(Ref, Ref)> {
        let hd = self.s.hidden;
        let gates = self.recur(&format!("{p}/gates"), h, r, xt)?;
        let ifo_pre = self.cols(&format!("{p}/iof_pre"), gates, 4 * hd, 0, 3 * hd);
        let ifo = self.op(&format!("{p}/iof"), acts[0], vec![ifo_pre]);
        let cand_pre = self.cols(&format!("{p}/c_pre"), gates, 4 * hd, 3 * hd, 4 * hd);
        let cand = self.op(&format!("{p}/c_cand"), acts[1], vec![cand_pre]);
        let i = self.cols(&format!("{p}/i"), ifo, 3 * hd, 0, hd);
        let o = self.cols(&format!("{p}/o"), ifo, 3 * hd, hd, 2 * hd);
        let f = self.cols(&format!("{p}/f"), ifo, 3 * hd, 2 * hd, 3 * hd);
        let ic = self.arith(&format!("{p}/i_c"), Arith::Mul, i, cand);
        let cn = match c {
            State::Const(t) if t.data.iter().all(|&v| v == 0.0) => ic,
            _ => {
                let cprev = self.state_ref(&format!("{p}/c_prev"), c);
                let fc = self.arith(&format!("{p}/f_c"), Arith::Mul, f, cprev);
                self.arith(&format!("{p}/c"), Arith::Add, fc, ic)
            }
        };
        let hc = self.op(&format!("{p}/act_c"), acts[2], vec![cn]);
        Ok((self.arith(&format!("{p}/h"), Arith::Mul, o, hc), cn))
    }

    /// One GRU step (gates `zrh`); the recurrence bias of the `h` gate, `rb_h`, is
    /// applied inside the reset product when `linear_before_reset` is set (else it is
    /// part of the input projection's bias).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn gru_step(&mut self, p: &str, acts: &[Activation], h: &State, r_zr: &Mat, r_h: &Mat, rb_h: &Mat, xt: Ref) -> Result<Ref> {
        let hd = self.s.hidden;
        let x_zr = self.cols(&format!("{p}/x_zr"), xt, 3 * hd, 0, 2 * hd);
        let x_h = self.cols(&format!("{p}/x_h"), xt, 3 * hd, 2 * hd, 3 * hd);
        let zr_pre = self.recur(&format!("{p}/zr_pre"), h, r_zr, x_zr)?;
        let zr = self.op(&format!("{p}/zr"), acts[0], vec![zr_pre]);
        let z = self.cols(&format!("{p}/z"), zr, 2 * hd, 0, hd);
        let rg = self.cols(&format!("{p}/r"), zr, 2 * hd, hd, 2 * hd);
        let hv = self.state_ref(&format!("{p}/h_prev"), h);
        let h_pre = if self.s.linear_before_reset {
            // x_h + r * (h R_h^T + Rb_h)
            let hr = match h {
                State::Var(hv) => Some(self.op(&format!("{p}/hR_h"), gemm_t(), vec![*hv, r_h.r, rb_h.r])),
                State::Const(h0) => {
                    let v = gemm_t().eval(&[h0, &r_h.t, &rb_h.t])?;
                    (!v.data.iter().all(|&x| x == 0.0)).then(|| self.sg.constant(format!("{p}/hR_h"), v))
                }
            };
            match hr {
                Some(hr) => {
                    let rh = self.arith(&format!("{p}/r_hR_h"), Arith::Mul, rg, hr);
                    self.arith(&format!("{p}/h_pre"), Arith::Add, x_h, rh)
                }
                None => x_h,
            }
        } else if matches!(h, State::Const(t) if t.data.iter().all(|&v| v == 0.0)) {
            x_h
        } else {
            // x_h + (r * h) R_h^T
            let rh = self.arith(&format!("{p}/r_h"), Arith::Mul, rg, hv);
            self.op(&format!("{p}/h_pre"), gemm_t(), vec![rh, r_h.r, x_h])
        };
        let cand = self.op(&format!("{p}/h_cand"), acts[1], vec![h_pre]);
        // H = (1 - z) * cand + z * h = cand + z * (h - cand)
        let diff = self.arith(&format!("{p}/h_diff"), Arith::Sub, hv, cand);
        let zd = self.arith(&format!("{p}/z_diff"), Arith::Mul, z, diff);
        Ok(self.arith(&format!("{p}/h"), Arith::Add, cand, zd))
    }
}
