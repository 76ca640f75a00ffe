//! Point-wise functions of one activation: Relu and the smooth and piecewise-linear
//! activations, trigonometry, rounding, Cast.
//!
//! Each function is plain `f64 -> f64` ([`Activation::apply`]). The quantizer builds its
//! lookup tables from exactly this function, and uses [`Activation::tails`] to split
//! off the linear asymptotes so that the remainder saturates and can be clamped
//! without loss.

use serde::{Deserialize, Serialize};

use super::{Imported, NodeCtx, Op, Registry};
use crate::error::Result;
use crate::tensor::{DType, Tensor};

/// Registers the activations.
pub fn register(r: &mut Registry) {
    use Activation as A;
    r.insert("Relu", |c: &NodeCtx| unary(c, A::Relu));
    r.insert("Sigmoid", |c: &NodeCtx| unary(c, A::Sigmoid));
    r.insert("Tanh", |c: &NodeCtx| unary(c, A::Tanh));
    r.insert("Erf", |c: &NodeCtx| unary(c, A::Erf));
    r.insert("Exp", |c: &NodeCtx| unary(c, A::Exp));
    r.insert("Log", |c: &NodeCtx| unary(c, A::Log));
    r.insert("Sqrt", |c: &NodeCtx| unary(c, A::Sqrt));
    r.insert("Reciprocal", |c: &NodeCtx| unary(c, A::Reciprocal));
    r.insert("Abs", |c: &NodeCtx| unary(c, A::Abs));
    r.insert("Sign", |c: &NodeCtx| unary(c, A::Sign));
    r.insert("Round", |c: &NodeCtx| unary(c, A::Round));
    r.insert("Floor", |c: &NodeCtx| unary(c, A::Floor));
    r.insert("Ceil", |c: &NodeCtx| unary(c, A::Ceil));
    r.insert("Softplus", |c: &NodeCtx| unary(c, A::Softplus));
    r.insert("Softsign", |c: &NodeCtx| unary(c, A::Softsign));
    r.insert("Mish", |c: &NodeCtx| unary(c, A::Mish));
    r.insert("Sin", |c: &NodeCtx| unary(c, A::Sin));
    r.insert("Cos", |c: &NodeCtx| unary(c, A::Cos));
    r.insert("Tan", |c: &NodeCtx| unary(c, A::Tan));
    r.insert("Asin", |c: &NodeCtx| unary(c, A::Asin));
    r.insert("Acos", |c: &NodeCtx| unary(c, A::Acos));
    r.insert("Atan", |c: &NodeCtx| unary(c, A::Atan));
    r.insert("Sinh", |c: &NodeCtx| unary(c, A::Sinh));
    r.insert("Cosh", |c: &NodeCtx| unary(c, A::Cosh));
    r.insert("Asinh", |c: &NodeCtx| unary(c, A::Asinh));
    r.insert("Acosh", |c: &NodeCtx| unary(c, A::Acosh));
    r.insert("Atanh", |c: &NodeCtx| unary(c, A::Atanh));
    r.insert("Elu", |c: &NodeCtx| unary(c, A::Elu { alpha: c.attrs.float_or("alpha", 1.0) as f64 }));
    r.insert("Celu", |c: &NodeCtx| unary(c, A::Celu { alpha: c.attrs.float_or("alpha", 1.0) as f64 }));
    r.insert("Selu", |c: &NodeCtx| {
        let alpha = c.attrs.float_or("alpha", 1.673_263_2) as f64;
        let gamma = c.attrs.float_or("gamma", 1.050_701) as f64;
        unary(c, A::Selu { alpha, gamma })
    });
    r.insert("LeakyRelu", |c: &NodeCtx| unary(c, A::LeakyRelu { alpha: c.attrs.float_or("alpha", 0.01) as f64 }));
    r.insert("HardSigmoid", |c: &NodeCtx| {
        let alpha = c.attrs.float_or("alpha", 0.2) as f64;
        let beta = c.attrs.float_or("beta", 0.5) as f64;
        unary(c, A::HardSigmoid { alpha, beta })
    });
    r.insert("HardSwish", |c: &NodeCtx| unary(c, A::HardSwish));
    r.insert("Gelu", |c: &NodeCtx| unary(c, A::Gelu));
    r.insert("Clip", import_clip);
    r.insert("Cast", import_cast);
}

/// Point-wise activations. Parameters are stored as `f64` for the float semantics.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    Relu,
    Sigmoid,
    Tanh,
    Erf,
    Exp,
    Log,
    Sqrt,
    Reciprocal,
    Abs,
    Sign,
    /// Round half to even, as ONNX specifies.
    Round,
    Floor,
    Ceil,
    Softplus,
    Softsign,
    Mish,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Gelu,
    HardSwish,
    Elu {
        alpha: f64,
    },
    Celu {
        alpha: f64,
    },
    Selu {
        alpha: f64,
        gamma: f64,
    },
    LeakyRelu {
        alpha: f64,
    },
    HardSigmoid {
        alpha: f64,
        beta: f64,
    },
    Clip {
        min: f64,
        max: f64,
    },
    /// `x ^ exponent` for a compile-time exponent (Pow with a constant second input).
    Pow {
        exponent: f64,
    },
    /// A type conversion; `to` integer types truncate, Bool tests `!= 0`.
    Cast {
        to: DType,
    },
}

fn unary(ctx: &NodeCtx, a: Activation) -> Result<Imported> {
    if ctx.num_inputs() != 1 {
        return Err(ctx.err("takes exactly one input"));
    }
    Ok(Imported::Op { op: Op::Activation(a), inputs: vec![0] })
}

fn import_clip(ctx: &NodeCtx) -> Result<Imported> {
    let (mut min, mut max) = (ctx.attrs.float_or("min", f32::MIN) as f64, ctx.attrs.float_or("max", f32::MAX) as f64);
    if ctx.opset >= 11 {
        if ctx.inputs.get(1).is_some_and(|i| i.is_some()) {
            min = ctx.const_input(1)?.data[0];
        }
        if ctx.inputs.get(2).is_some_and(|i| i.is_some()) {
            max = ctx.const_input(2)?.data[0];
        }
    }
    Ok(Imported::Op { op: Op::Activation(Activation::Clip { min, max }), inputs: vec![0] })
}

fn import_cast(ctx: &NodeCtx) -> Result<Imported> {
    let code = ctx.attrs.int("to").ok_or_else(|| ctx.err("missing `to`"))?;
    let to = DType::from_onnx(code as i32).ok_or_else(|| ctx.err(format!("unsupported target type {code}")))?;
    Ok(Imported::Op { op: Op::Activation(Activation::Cast { to }), inputs: vec![0] })
}

/// `erf` by Abramowitz–Stegun 7.1.26 refined with a series/continued fraction split;
/// accurate to ~1e-12, well beyond any table resolution.
pub fn erf(x: f64) -> f64 {
    let t = x.abs();
    let r = if t < 2.5 {
        // Maclaurin series: converges fast for |x| < 2.5.
        let (mut sum, mut term, mut n) = (t, t, 0.0);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -t * t / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() < 1e-18 {
                break;
            }
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    } else {
        // Continued fraction for erfc.
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (t + f);
        }
        1.0 - (-t * t).exp() / (std::f64::consts::PI.sqrt() * (t + f))
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

impl Activation {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        use Activation::*;
        match self {
            Relu => "Relu",
            Sigmoid => "Sigmoid",
            Tanh => "Tanh",
            Erf => "Erf",
            Exp => "Exp",
            Log => "Log",
            Sqrt => "Sqrt",
            Reciprocal => "Reciprocal",
            Abs => "Abs",
            Sign => "Sign",
            Round => "Round",
            Floor => "Floor",
            Ceil => "Ceil",
            Softplus => "Softplus",
            Softsign => "Softsign",
            Mish => "Mish",
            Sin => "Sin",
            Cos => "Cos",
            Tan => "Tan",
            Asin => "Asin",
            Acos => "Acos",
            Atan => "Atan",
            Sinh => "Sinh",
            Cosh => "Cosh",
            Asinh => "Asinh",
            Acosh => "Acosh",
            Atanh => "Atanh",
            Gelu => "Gelu",
            HardSwish => "HardSwish",
            Elu { .. } => "Elu",
            Celu { .. } => "Celu",
            Selu { .. } => "Selu",
            LeakyRelu { .. } => "LeakyRelu",
            HardSigmoid { .. } => "HardSigmoid",
            Clip { .. } => "Clip",
            Pow { .. } => "Pow",
            Cast { .. } => "Cast",
        }
    }

    /// The float function.
    pub fn apply(&self, x: f64) -> f64 {
        use Activation::*;
        let softplus = |x: f64| if x > 30.0 { x } else { x.exp().ln_1p() };
        match *self {
            Relu => x.max(0.0),
            Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Tanh => x.tanh(),
            Erf => erf(x),
            Exp => x.exp(),
            Log => x.ln(),
            Sqrt => x.sqrt(),
            Reciprocal => 1.0 / x,
            Abs => x.abs(),
            Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Round => x.round_ties_even(),
            Floor => x.floor(),
            Ceil => x.ceil(),
            Softplus => softplus(x),
            Softsign => x / (1.0 + x.abs()),
            Mish => x * softplus(x).tanh(),
            Sin => x.sin(),
            Cos => x.cos(),
            Tan => x.tan(),
            Asin => x.asin(),
            Acos => x.acos(),
            Atan => x.atan(),
            Sinh => x.sinh(),
            Cosh => x.cosh(),
            Asinh => x.asinh(),
            Acosh => x.acosh(),
            Atanh => x.atanh(),
            Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Elu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Celu { alpha } => x.max(0.0) + (alpha * (x / alpha).exp_m1()).min(0.0),
            Selu { alpha, gamma } => gamma * if x > 0.0 { x } else { alpha * x.exp_m1() },
            LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Clip { min, max } => x.max(min).min(max),
            Pow { exponent } => x.powf(exponent),
            Cast { to } => match to {
                DType::Bool => (x != 0.0) as i32 as f64,
                t if t.is_float() => x,
                _ => x.trunc(),
            },
        }
    }

    /// Slopes `(left, right)` of the linear asymptotes of functions that grow linearly:
    /// `f(x) - left*x - (right-left)*relu(x)` then tends to constants on both sides.
    /// `None` for functions that saturate (or whose tables are bounded by calibration).
    pub fn tails(&self) -> Option<(f64, f64)> {
        use Activation::*;
        match *self {
            Relu | Softplus | Mish | Gelu | HardSwish | Elu { .. } | Celu { .. } => Some((0.0, 1.0)),
            Selu { gamma, .. } => Some((0.0, gamma)),
            LeakyRelu { alpha } => Some((alpha, 1.0)),
            Abs => Some((-1.0, 1.0)),
            _ => None,
        }
    }

    /// The output element type for an input of type `input`.
    pub fn out_dtype(&self, input: DType) -> DType {
        match self {
            Activation::Cast { to } => *to,
            _ => input,
        }
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let data = x.data.iter().map(|v| self.apply(*v)).collect();
        Ok(Tensor::new(x.shape.clone(), data, self.out_dtype(x.dtype)))
    }
}
