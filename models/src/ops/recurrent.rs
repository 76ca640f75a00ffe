//! Recurrent ops, unrolled over their static sequence length at import: LSTM, GRU, RNN.
//!
//! Each node expands into a [`Subgraph`] of existing ops, so the existing chips
//! constrain it: one Gemm projects the input of every time step at once (with the
//! biases that simply add), then per step a Gemm of the previous hidden state with the
//! recurrence weights (its bias input is the projected step input), the gate
//! activations, and element-wise Mul/Add/Sub for the state update. Slice, Concat,
//! Reshape and Transpose assemble the outputs `Y`, `Y_h`, `Y_c`. A constant initial
//! state (absent: zero) is folded into the first step.

mod unroll;

use super::{Activation, Imported, Layout, NodeCtx, Ref, Registry, Subgraph};
use crate::error::Result;
use crate::tensor::{DType, Tensor};
use unroll::{gemm_t, matrix, State, Unroll, Weights};

/// Registers LSTM, GRU and RNN.
pub fn register(r: &mut Registry) {
    r.insert("LSTM", |c: &NodeCtx| import(c, Cell::Lstm));
    r.insert("GRU", |c: &NodeCtx| import(c, Cell::Gru));
    r.insert("RNN", |c: &NodeCtx| import(c, Cell::Rnn));
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    Lstm,
    Gru,
    Rnn,
}

impl Cell {
    /// Gate blocks in W and R: LSTM `iofc`, GRU `zrh`, RNN one.
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::Rnn => 1,
        }
    }

    /// The default activations of one direction (`f, g, h` for LSTM).
    fn default_activations(self) -> &'static [Activation] {
        match self {
            Cell::Lstm => &[Activation::Sigmoid, Activation::Tanh, Activation::Tanh],
            Cell::Gru => &[Activation::Sigmoid, Activation::Tanh],
            Cell::Rnn => &[Activation::Tanh],
        }
    }
}

/// The node's resolved attributes and static sizes.
struct Spec {
    /// Per direction: whether it runs backwards in time.
    reverse: Vec<bool>,
    /// Per direction: its activations.
    acts: Vec<Vec<Activation>>,
    /// `layout = 1`: batch-major X, initial states and outputs.
    batch_major: bool,
    linear_before_reset: bool,
    seq: usize,
    batch: usize,
    hidden: usize,
    dtype: DType,
}

fn activation(ctx: &NodeCtx, name: &str) -> Result<Activation> {
    match name.to_ascii_lowercase().as_str() {
        "sigmoid" => Ok(Activation::Sigmoid),
        "tanh" => Ok(Activation::Tanh),
        "relu" => Ok(Activation::Relu),
        "softsign" => Ok(Activation::Softsign),
        "softplus" => Ok(Activation::Softplus),
        _ => Err(ctx.err(format!("activation `{name}` is not supported (Sigmoid, Tanh, Relu, Softsign, Softplus are)"))),
    }
}

fn spec(ctx: &NodeCtx, cell: Cell) -> Result<Spec> {
    for unsupported in ["clip", "activation_alpha", "activation_beta"] {
        if ctx.attrs.has(unsupported) {
            return Err(ctx.err(format!("attribute `{unsupported}` is not supported")));
        }
    }
    if ctx.attrs.int_or("input_forget", 0) != 0 {
        return Err(ctx.err("input_forget = 1 is not supported"));
    }
    let reverse = match ctx.attrs.string("direction").as_deref().unwrap_or("forward") {
        "forward" => vec![false],
        "reverse" => vec![true],
        "bidirectional" => vec![false, true],
        other => return Err(ctx.err(format!("unknown direction `{other}`"))),
    };
    let per_dir = cell.default_activations().len();
    let acts = match ctx.attrs.strings("activations") {
        None => vec![cell.default_activations().to_vec(); reverse.len()],
        Some(names) if names.len() == per_dir * reverse.len() => {
            names.chunks(per_dir).map(|c| c.iter().map(|n| activation(ctx, n)).collect::<Result<Vec<_>>>()).collect::<Result<_>>()?
        }
        Some(names) => return Err(ctx.err(format!("{} activations given, expected {}", names.len(), per_dir * reverse.len()))),
    };
    let batch_major = match ctx.attrs.int_or("layout", 0) {
        0 => false,
        1 => true,
        l => return Err(ctx.err(format!("layout {l} is not 0 or 1"))),
    };
    let x = ctx.inputs.first().and_then(|i| i.as_ref()).ok_or_else(|| ctx.err("missing input X"))?.shape;
    if x.len() != 3 {
        return Err(ctx.err(format!("X must be 3-D, got {x:?}")));
    }
    let (seq, batch) = if batch_major { (x[1], x[0]) } else { (x[0], x[1]) };
    if seq == 0 || batch == 0 {
        return Err(ctx.err(format!("empty sequence or batch in X {x:?}")));
    }
    let r = ctx.const_input(2)?;
    let hidden = r.shape.get(2).copied().ok_or_else(|| ctx.err(format!("R must be 3-D, got {:?}", r.shape)))?;
    if ctx.attrs.int("hidden_size").is_some_and(|h| h != hidden as i64) {
        return Err(ctx.err(format!("hidden_size differs from R's shape {:?}", r.shape)));
    }
    let w = ctx.const_input(1)?;
    let (d, gh) = (reverse.len(), cell.gates() * hidden);
    if w.shape != [d, gh, x[2]] || r.shape != [d, gh, hidden] {
        return Err(ctx.err(format!("W {:?} and R {:?} do not fit X {x:?}, {d} direction(s), hidden size {hidden}", w.shape, r.shape)));
    }
    if ctx.inputs.get(4).is_some_and(|l| l.is_some()) && !ctx.is_const(4) {
        return Err(ctx.err("sequence_lens must be a compile-time constant (the full sequence length)"));
    }
    if let Some(lens) = ctx.opt_const_ints(4)? {
        if lens.len() != batch || lens.iter().any(|&l| l != seq as i64) {
            return Err(ctx.err(format!("sequence_lens {lens:?} must all be the full sequence length {seq}")));
        }
    }
    if cell == Cell::Lstm && ctx.inputs.get(7).is_some_and(|p| p.is_some()) {
        let zero = ctx.inputs[7].as_ref().and_then(|p| p.constant).is_some_and(|p| p.data.iter().all(|&v| v == 0.0));
        if !zero {
            return Err(ctx.err("peephole weights P are not supported (only constant zeros)"));
        }
    }
    let linear_before_reset = cell == Cell::Gru && ctx.attrs.int_or("linear_before_reset", 0) != 0;
    Ok(Spec { reverse, acts, batch_major, linear_before_reset, seq, batch, hidden, dtype: w.dtype })
}

fn import(ctx: &NodeCtx, cell: Cell) -> Result<Imported> {
    let s = spec(ctx, cell)?;
    let mut u = Unroll { sg: Subgraph::default(), s: &s };
    let (seq, batch, hidden, dirs) = (s.seq, s.batch, s.hidden, s.reverse.len());
    let gh = cell.gates() * hidden;
    let (w, r) = (ctx.const_input(1)?, ctx.const_input(2)?);
    let bias = match ctx.inputs.get(3) {
        Some(Some(_)) => Some(ctx.const_input(3)?),
        _ => None,
    };
    if bias.is_some_and(|b| b.shape != [dirs, 2 * gh]) {
        return Err(ctx.err(format!("B has shape {:?}, expected [{dirs}, {}]", bias.map(|b| &b.shape), 2 * gh)));
    }
    let x = if s.batch_major { u.transpose("X", Ref::Input(0), vec![1, 0, 2]) } else { Ref::Input(0) };
    let input = w.shape[2];
    let x = u.op("X/rows", Layout::Reshape { shape: vec![seq * batch, input] }, vec![x]);
    let init_h = u.initial_state(ctx, 5, "initial_h")?;
    let init_c = if cell == Cell::Lstm { u.initial_state(ctx, 6, "initial_c")? } else { vec![] };

    let (mut ys, mut last_h, mut last_c) = (vec![vec![]; dirs], vec![], vec![]);
    for d in 0..dirs {
        // Wb and Rb of this direction add to the input projection, except GRU's Rbh when
        // linear_before_reset keeps it inside the reset product.
        let wb_rb = bias.map(|b| b.data[d * 2 * gh..(d + 1) * 2 * gh].split_at(gh));
        let wref = u.sg.constant(format!("d{d}/W"), matrix(w, d, 0, gh));
        let mut xin = vec![x, wref];
        if let Some((wb, rb)) = wb_rb {
            let keep_rb = |i: usize| !(s.linear_before_reset && i >= 2 * hidden);
            let sum = (0..gh).map(|i| wb[i] + if keep_rb(i) { rb[i] } else { 0.0 }).collect();
            xin.push(u.sg.constant(format!("d{d}/B"), Tensor::new(vec![gh], sum, s.dtype)));
        }
        let xw = u.op(&format!("d{d}/xw"), gemm_t(), xin);
        let weights = match cell {
            Cell::Gru => {
                let rbh = wb_rb.map_or(vec![0.0; hidden], |(_, rb)| rb[2 * hidden..].to_vec());
                Weights::Gru {
                    zr: u.mat(&format!("d{d}/R_zr"), matrix(r, d, 0, 2 * hidden)),
                    h: u.mat(&format!("d{d}/R_h"), matrix(r, d, 2 * hidden, gh)),
                    rb_h: u.mat(&format!("d{d}/Rb_h"), Tensor::new(vec![hidden], rbh, s.dtype)),
                }
            }
            Cell::Lstm | Cell::Rnn => Weights::Single(u.mat(&format!("d{d}/R"), matrix(r, d, 0, gh))),
        };
        // LSTM carries a cell state besides the hidden state.
        let (mut h, mut c) = (init_h[d].clone(), init_c.get(d).cloned());
        let times: Vec<usize> = if s.reverse[d] { (0..seq).rev().collect() } else { (0..seq).collect() };
        let mut hs = vec![None; seq];
        for t in times {
            let p = format!("d{d}/t{t}");
            let xt = if seq == 1 { xw } else { u.slice(&format!("{p}/x"), xw, &[seq * batch, gh], 0, t * batch, (t + 1) * batch) };
            let acts = &s.acts[d];
            let hn = match (&weights, &c) {
                (Weights::Single(r), Some(cs)) => {
                    let (hn, cn) = u.lstm_step(&p, acts, &h, cs, r, xt)?;
                    c = Some(State::Var(cn));
                    hn
                }
                (Weights::Single(r), None) => {
                    let pre = u.recur(&format!("{p}/pre"), &h, r, xt)?;
                    u.op(&format!("{p}/h"), acts[0], vec![pre])
                }
                (Weights::Gru { zr, h: r_h, rb_h }, _) => u.gru_step(&p, acts, &h, zr, r_h, rb_h, xt)?,
            };
            h = State::Var(hn);
            hs[t] = Some(hn);
        }
        ys[d] = hs.into_iter().flatten().collect();
        last_h.push(h);
        last_c.extend(c);
    }
    // Y [seq, dirs, batch, hidden]: time-major, then direction.
    let pieces: Vec<Ref> = (0..seq).flat_map(|t| ys.iter().map(move |y| y[t])).collect();
    let y = u.stack("Y", pieces, vec![seq, dirs, batch, hidden], vec![2, 0, 1, 3]);
    let mut outputs = vec![Some(y)];
    for (name, states) in [("Y_h", last_h), ("Y_c", last_c)] {
        let refs: Vec<Ref> = states.iter().map(|st| u.state_ref(&format!("{name}/state"), st)).collect();
        if !refs.is_empty() {
            outputs.push(Some(u.stack(name, refs, vec![dirs, batch, hidden], vec![1, 0, 2])));
        }
    }
    if ctx.num_outputs > outputs.len() {
        return Err(ctx.err(format!("{} outputs declared, {cell_outputs} defined", ctx.num_outputs, cell_outputs = outputs.len())));
    }
    outputs.truncate(ctx.num_outputs);
    u.sg.outputs = outputs;
    Ok(Imported::Subgraph(u.sg))
}
