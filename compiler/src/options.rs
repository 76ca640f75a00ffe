//! One typed options model for compiling a model, shared by the CLI, the gRPC API and the
//! job store (serialized with explicit names; unset options are left out, so adding an
//! option does not change the serialized form of older ones).
//!
//! Every option is validated here, once: a value out of range, or an option that the
//! chosen backend does not support, is an [`OptionsError`] naming the option (by its
//! serialized name; front ends map it to their own flag or field name). Nothing is
//! silently ignored.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use zkinfer_circuits::layout::Optimize;
use zkinfer_circuits::{ParamVisibility, PlanOptions, Visibility, VisibilityConfig};
use zkinfer_models::QuantOptions;
use zkinfer_prover::Backend;

pub use crate::calibration::Target;

pub use zkinfer_circuits::layout::{DEFAULT_MAX_K, MIN_K};

/// Largest `k` accepted (2^26 rows).
pub const MAX_K: u32 = 26;
/// Largest column cap accepted for `max_advice` and `mac_width`.
pub const MAX_COLUMNS: usize = 64;
/// Largest relative error allowed by default for `target = resources`.
pub const RESOURCES_MAX_ERROR: f64 = 0.01;

/// How to compile a model. `Default` is the default of every front end.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompileOptions {
    /// The proof system.
    #[serde(default, skip_serializing_if = "Backend::is_default")]
    pub backend: Backend,
    /// What the calibration search optimizes.
    #[serde(default)]
    pub target: Target,
    /// Largest relative error (max |error| over the output's range) allowed on every
    /// calibration sample; unset: none for `accuracy`, [`RESOURCES_MAX_ERROR`] for
    /// `resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error: Option<f64>,
    /// Activations satisfy `|q| < 2^(bits-1)`; unset: 32 for `accuracy`, 24 for
    /// `resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    /// Pinned activation scale (fractional bits) instead of the calibrated one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// Pinned weight scale (fractional bits) instead of the calibrated one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param_scale: Option<u32>,
    /// Exactly this `k` (halo2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
    /// Largest `k` the planner may choose (halo2); unset: [`DEFAULT_MAX_K`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_k: Option<u32>,
    /// Most advice columns at every `k` (halo2); unset or 0: the planner's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_advice: Option<usize>,
    /// Width of the multiply-accumulate gate (halo2); 0: never; unset: the planner's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_width: Option<usize>,
    /// What the layout planner ranks fitting shapes by (halo2); unset: `prove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimize: Option<Optimize>,
    /// Inputs as public instances, private witness or a Poseidon hash (halo2).
    #[serde(default)]
    pub input_visibility: Visibility,
    /// Outputs as public instances, private witness or a Poseidon hash (halo2).
    #[serde(default)]
    pub output_visibility: Visibility,
    /// Weights as fixed constants, private witness or private with their hash (halo2).
    #[serde(default, skip_serializing_if = "ParamVisibility::is_fixed")]
    pub param_visibility: ParamVisibility,
}

/// An option out of range or unsupported by the chosen backend.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("option `{field}`: {message}")]
pub struct OptionsError {
    /// The option's serialized name (`k`, `max_advice`, `input_visibility`, ...).
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> OptionsError {
    OptionsError { field, message: message.into() }
}

impl CompileOptions {
    /// The same options with every option set to its default value unset, so that two
    /// requests meaning the same compile serialize (and name a model) the same way.
    pub fn normalized(self) -> CompileOptions {
        CompileOptions {
            max_k: self.max_k.filter(|k| *k != DEFAULT_MAX_K),
            max_advice: self.max_advice.filter(|n| *n > 0),
            optimize: self.optimize.filter(|o| *o != Optimize::default()),
            ..self
        }
    }

    /// Checks every option's range and that the backend supports every option set.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let max_k = self.max_k();
        if !(MIN_K..=MAX_K).contains(&max_k) {
            return Err(bad("max_k", format!("{max_k} is outside {MIN_K}..={MAX_K}")));
        }
        if let Some(k) = self.k {
            if !(MIN_K..=max_k).contains(&k) {
                return Err(bad("k", format!("{k} is outside {MIN_K}..={max_k} (max_k)")));
            }
        }
        if let Some(n) = self.max_advice.filter(|n| *n > MAX_COLUMNS) {
            return Err(bad("max_advice", format!("{n} is over {MAX_COLUMNS}")));
        }
        if let Some(w) = self.mac_width.filter(|w| *w > MAX_COLUMNS) {
            return Err(bad("mac_width", format!("{w} is over {MAX_COLUMNS}")));
        }
        if let Some(b) = self.bits.filter(|b| !(8..=48).contains(b)) {
            return Err(bad("bits", format!("{b} is outside 8..=48")));
        }
        for (field, s) in [("scale", self.scale), ("param_scale", self.param_scale)] {
            if let Some(s) = s.filter(|s| *s > 32) {
                return Err(bad(field, format!("2^{s} is finer than 2^32")));
            }
        }
        if let Some(e) = self.max_error.filter(|e| !(e.is_finite() && *e > 0.0)) {
            return Err(bad("max_error", format!("{e} is not a positive number")));
        }
        match self.backend {
            Backend::Halo2 => Ok(()),
            Backend::Groth16 => self.validate_groth16(),
        }
    }

    /// Groth16 lowers the graph to R1CS: no layout to plan, every value public, the
    /// weights in the circuit-specific keys.
    fn validate_groth16(&self) -> Result<(), OptionsError> {
        let halo2_only: [(&'static str, bool); 5] = [
            ("k", self.k.is_some()),
            ("max_k", self.max_k.is_some()),
            ("max_advice", self.max_advice.is_some_and(|n| n > 0)),
            ("mac_width", self.mac_width.is_some()),
            ("optimize", self.optimize.is_some()),
        ];
        if let Some((field, _)) = halo2_only.iter().find(|(_, set)| *set) {
            return Err(bad(field, "applies to the halo2 backend only (Groth16 has no layout to plan)"));
        }
        for (field, v) in [("input_visibility", self.input_visibility), ("output_visibility", self.output_visibility)] {
            if v != Visibility::Public {
                return Err(bad(field, "the groth16 backend proves with public inputs and outputs only"));
            }
        }
        if !self.param_visibility.is_fixed() {
            return Err(bad("param_visibility", "the groth16 backend proves with fixed parameters only (its setup is per circuit)"));
        }
        Ok(())
    }

    /// The largest `k` the planner may choose.
    pub fn max_k(&self) -> u32 {
        self.max_k.unwrap_or(DEFAULT_MAX_K)
    }

    /// The largest relative error the calibration search accepts.
    pub fn max_error(&self) -> f64 {
        self.max_error.unwrap_or(match self.target {
            Target::Accuracy => f64::INFINITY,
            Target::Resources => RESOURCES_MAX_ERROR,
        })
    }

    /// Whether the weights are witness cells (`private` or `hashed`).
    pub fn private_params(&self) -> bool {
        !self.param_visibility.is_fixed()
    }

    /// Which values are public, private or hashed.
    pub fn visibility(&self) -> VisibilityConfig {
        VisibilityConfig { inputs: self.input_visibility, outputs: self.output_visibility, params: self.param_visibility }
    }

    /// The quantization options: the target's defaults (`resources`: 24-bit activations,
    /// scales up to 2^8, 16-bit weights), with the bits and scales set here.
    pub fn quant_options(&self) -> QuantOptions {
        let base = match self.target {
            Target::Accuracy => QuantOptions::default(),
            Target::Resources => QuantOptions { bits: 24, max_scale: 8, max_param_scale: 8, param_bits: 16, ..QuantOptions::default() },
        };
        QuantOptions {
            bits: self.bits.unwrap_or(base.bits),
            scale: self.scale,
            param_scale: self.param_scale,
            private_params: self.private_params(),
            ..base
        }
    }

    /// The planner's options: `max_advice` caps every column budget (small, large and wide
    /// shapes); private parameters turn the MAC gate off (it holds weights in fixed columns).
    pub fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            max_k: self.max_k(),
            k: self.k,
            visibility: self.visibility(),
            mac_width: if self.private_params() { Some(0) } else { self.mac_width },
            optimize: self.optimize.unwrap_or_default(),
            ..PlanOptions::default()
        }
        .with_max_advice(self.max_advice.filter(|n| *n > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_serialize_to_the_three_always_named_options() {
        let json = serde_json::to_string(&CompileOptions::default()).unwrap();
        assert_eq!(json, r#"{"target":"accuracy","input_visibility":"public","output_visibility":"public"}"#);
        assert_eq!(serde_json::from_str::<CompileOptions>("{}").unwrap(), CompileOptions::default());
    }

    #[test]
    fn options_stored_before_the_typed_model_still_read() {
        // The job store's rows of earlier versions: strings for enums, 0 for "default columns".
        let old = r#"{"target":"resources","max_k":20,"k":null,"max_advice":0,"input_visibility":"private","output_visibility":"public","backend":"groth16"}"#;
        let o: CompileOptions = serde_json::from_str(old).unwrap();
        assert_eq!(
            (o.target, o.max_k, o.backend, o.input_visibility),
            (Target::Resources, Some(20), Backend::Groth16, Visibility::Private)
        );
        assert_eq!(o.plan_options().max_advice, PlanOptions::default().max_advice);
    }

    #[test]
    fn resources_means_the_same_quantization_everywhere() {
        let o = CompileOptions { target: Target::Resources, ..Default::default() };
        let q = o.quant_options();
        assert_eq!((q.bits, q.max_scale, q.max_param_scale, q.param_bits), (24, 8, 8, 16));
        assert_eq!(o.max_error(), RESOURCES_MAX_ERROR);
        let pinned = CompileOptions { bits: Some(28), scale: Some(6), ..o };
        assert_eq!((pinned.quant_options().bits, pinned.quant_options().scale), (28, Some(6)));
    }

    #[test]
    fn groth16_refuses_every_option_it_cannot_honour() {
        let g = CompileOptions { backend: Backend::Groth16, ..Default::default() };
        assert_eq!(g.validate(), Ok(()));
        let cases: Vec<(&str, CompileOptions)> = vec![
            ("k", CompileOptions { k: Some(10), ..g.clone() }),
            ("max_k", CompileOptions { max_k: Some(20), ..g.clone() }),
            ("max_advice", CompileOptions { max_advice: Some(4), ..g.clone() }),
            ("mac_width", CompileOptions { mac_width: Some(2), ..g.clone() }),
            ("optimize", CompileOptions { optimize: Some(Optimize::Gas), ..g.clone() }),
            ("input_visibility", CompileOptions { input_visibility: Visibility::Hashed, ..g.clone() }),
            ("output_visibility", CompileOptions { output_visibility: Visibility::Private, ..g.clone() }),
            ("param_visibility", CompileOptions { param_visibility: ParamVisibility::Hashed, ..g.clone() }),
        ];
        for (field, o) in cases {
            assert_eq!(o.validate().unwrap_err().field, field);
        }
        // Calibration options apply to both backends.
        let ok = CompileOptions { target: Target::Resources, max_error: Some(0.05), bits: Some(24), scale: Some(8), ..g };
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn ranges_are_checked_with_the_option_named() {
        let cases: Vec<(&str, CompileOptions)> = vec![
            ("max_k", CompileOptions { max_k: Some(MAX_K + 1), ..Default::default() }),
            ("k", CompileOptions { k: Some(MIN_K - 1), ..Default::default() }),
            ("k", CompileOptions { k: Some(20), max_k: Some(18), ..Default::default() }),
            ("max_advice", CompileOptions { max_advice: Some(65), ..Default::default() }),
            ("bits", CompileOptions { bits: Some(4), ..Default::default() }),
            ("scale", CompileOptions { scale: Some(40), ..Default::default() }),
            ("max_error", CompileOptions { max_error: Some(-1.0), ..Default::default() }),
        ];
        for (field, o) in cases {
            assert_eq!(o.validate().unwrap_err().field, field, "{o:?}");
        }
        // Private parameters calibrate by default: no pinned scales needed.
        assert_eq!(CompileOptions { param_visibility: ParamVisibility::Hashed, ..Default::default() }.validate(), Ok(()));
    }

    #[test]
    fn explicit_defaults_normalize_away() {
        let explicit =
            CompileOptions { max_k: Some(DEFAULT_MAX_K), max_advice: Some(0), optimize: Some(Optimize::Prove), ..Default::default() };
        assert_eq!(explicit.normalized(), CompileOptions::default());
        let g = CompileOptions { backend: Backend::Groth16, optimize: Some(Optimize::Prove), ..Default::default() };
        assert_eq!(g.normalized().validate(), Ok(()));
    }

    #[test]
    fn private_parameters_turn_the_mac_gate_off() {
        let o =
            CompileOptions { param_visibility: ParamVisibility::Private, mac_width: Some(4), max_advice: Some(5), ..Default::default() };
        let p = o.plan_options();
        assert_eq!((p.mac_width, p.max_advice, p.max_advice_large, p.max_advice_wide), (Some(0), 5, 5, 5));
        assert!(o.quant_options().private_params);
    }
}
