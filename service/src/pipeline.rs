//! The zkinfer chain in memory: compile (calibrate, quantize, plan, keygen, verifier),
//! prove, verify natively and on the EVM. No disk or network IO here.

use std::time::Instant;

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::{Deserialize, Serialize};
use zkinfer_circuits::public;
use zkinfer_circuits::hash::hash_packed;
use zkinfer_circuits::{native_instances, plan_candidates, Plan, CIRCUIT_VERSION, CircuitShape, InstanceLayout, LayoutStats, PlanOptions, VisibilityConfig};
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, FidelityReport};
use zkinfer_models::quant::{Calibration, QuantGraph, QuantOptions};
use zkinfer_prover::halo2::{self as h2, Halo2Keys};
use zkinfer_prover::srs;
use zkinfer_verifier_contracts::{compile_halo2_verifier, estimated_runtime_bytes, halo2_verifier_source, verify_on_evm, VerifierCode, VerifierContracts, EIP170_LIMIT};

use crate::calibration::{self, Target};
use crate::error::ServiceError;
use crate::hash::{sha256_hex, sha256_parts};
use crate::progress::{step, Progress};

/// Where the SRS comes from.
#[derive(Clone, Debug)]
pub enum SrsSource {
    /// Generated locally from a fixed seed: for tests and trials only.
    InsecureTest,
    /// A ceremony file in halo2's KZG format, with its content.
    File { path: String, bytes: std::sync::Arc<Vec<u8>> },
}

/// Options of `compile`.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    pub quant: QuantOptions,
    /// What the calibration search optimizes.
    pub target: Target,
    /// Largest relative error allowed over the calibration samples; `None`: no bound for
    /// `accuracy`, 1% for `resources`.
    pub max_error: Option<f64>,
    pub plan: PlanOptions,
    pub srs: Option<SrsSource>,
}

/// Identifies the SRS a model was compiled with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SrsInfo {
    /// `insecure-test` or `file`.
    pub kind: String,
    pub path: Option<String>,
    /// SHA-256 of the SRS bytes at the circuit's k.
    pub sha256: String,
}

/// Everything about a compiled model that is not a key: written as settings.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    pub format_version: u32,
    /// SHA-256 of the ONNX file.
    pub model_hash: String,
    /// SHA-256 of the quantized graph, circuit parameters and SRS: names the keys.
    pub settings_hash: String,
    pub input_shapes: Vec<Vec<usize>>,
    pub output_shapes: Vec<Vec<usize>>,
    pub calibration: Calibration,
    pub shape: CircuitShape,
    pub stats: LayoutStats,
    pub num_instances: usize,
    pub srs: SrsInfo,
    pub fidelity: Option<FidelityReport>,
    /// Runtime code of the verifier's largest contract (EIP-170 limits each).
    pub verifier_runtime_bytes: usize,
    /// Contracts to deploy: 1, or the parts of a split verifier and its entry.
    #[serde(default = "one")]
    pub verifier_contracts: usize,
}

fn one() -> usize {
    1
}

/// A compiled model with its keys and verifier.
pub struct Compiled {
    pub settings: Settings,
    pub quant: QuantGraph,
    pub params: ParamsKZG<Bn256>,
    pub keys: Halo2Keys,
    pub verifier: VerifierContracts,
    /// Whether keys came from the cache.
    pub keys_cached: bool,
}

/// Keys looked up or stored by `settings_hash`.
pub trait KeyCache {
    /// Serialized proving key and shape (with break points), if cached.
    fn get(&self, settings_hash: &str) -> Option<(Vec<u8>, CircuitShape)>;
    /// Stores them; failures only cost a later keygen.
    fn put(&self, settings_hash: &str, pk: &[u8], shape: &CircuitShape);
    /// A cached insecure test SRS of at least `k` (generating one at k = 17 takes ~30 s).
    fn test_srs(&self, _k: u32) -> Option<Vec<u8>> {
        None
    }
    /// Caches an insecure test SRS.
    fn put_test_srs(&self, _k: u32, _bytes: &[u8]) {}
}

/// A cache that never hits.
pub struct NoCache;

impl KeyCache for NoCache {
    fn get(&self, _: &str) -> Option<(Vec<u8>, CircuitShape)> {
        None
    }
    fn put(&self, _: &str, _: &[u8], _: &CircuitShape) {}
}

/// The SRS at exactly `k`, with its identity. The insecure test SRS is deterministic,
/// so a cached copy (of any size at least `k`) is the same SRS.
pub fn srs_for(source: &SrsSource, k: u32, cache: &dyn KeyCache) -> Result<(ParamsKZG<Bn256>, SrsInfo), ServiceError> {
    let (params, kind, path) = match source {
        SrsSource::InsecureTest => {
            let params = match cache.test_srs(k).and_then(|b| srs::read_srs(&b, k).ok()) {
                Some(p) => p,
                None => {
                    let p = srs::insecure_test_srs(k);
                    cache.put_test_srs(k, &srs::write_srs(&p));
                    p
                }
            };
            (params, "insecure-test", None)
        }
        SrsSource::File { path, bytes } => (srs::read_srs(bytes, k)?, "file", Some(path.clone())),
    };
    let sha256 = sha256_hex(&srs::write_srs(&params));
    Ok((params, SrsInfo { kind: kind.into(), path, sha256 }))
}

/// Calibrates on `samples`, quantizes, plans the circuit, runs (or reuses) key
/// generation and builds the Solidity verifier (split into contracts under EIP-170
/// when it does not fit in one).
#[allow(clippy::too_many_arguments)]
pub fn compile(
    onnx: &[u8],
    samples: &[Vec<Vec<f64>>],
    input_shapes: Option<Vec<Vec<usize>>>,
    reference: Option<&[Vec<f64>]>,
    opts: &CompileOptions,
    cache: &dyn KeyCache,
    progress: &dyn Progress,
) -> Result<Compiled, ServiceError> {
    if samples.is_empty() {
        return Err(ServiceError::Input("no calibration sample".into()));
    }
    let private_params = !opts.plan.visibility.params.is_fixed();
    let mut quant_opts = opts.quant.clone();
    if private_params {
        // Calibrated scales follow the weights; pinned ones make every weight set of an
        // architecture quantize to the same structure, hence the same circuit and keys.
        if quant_opts.scale.is_none() || quant_opts.param_scale.is_none() {
            return Err(ServiceError::Input(
                "private or hashed parameters need pinned scales (--scale and --param-scale): calibrated scales depend on the weights".into(),
            ));
        }
        quant_opts.private_params = true;
    }
    let hints = hints_for(samples, input_shapes);
    let max_error = opts.max_error.unwrap_or(match opts.target {
        Target::Accuracy => f64::INFINITY,
        Target::Resources => 0.01,
    });
    let mut plan_opts = opts.plan.clone();
    if private_params {
        // The MAC gate holds weights in fixed columns.
        plan_opts.mac_width = Some(0);
    }
    // What the planner ranks shapes by (lower is better).
    let rank = |p: &Plan| plan_opts.rank(&p.stats).0;
    let fine = quantize_and_plan(onnx, samples, &hints, &quant_opts, reference, opts.target, max_error, &plan_opts, "", progress)?;
    // Scales finer than COARSE_SCALE are free in most graphs but widen some (a rescale's
    // remainder, a norm's variance): the coarser setting is also planned, and kept when
    // the finer one costs over FINER_SCALE_SLACK more or is no more precise (a coarser
    // setting that fails to quantize or plan leaves the finer one).
    let coarse = calibration::coarser(&quant_opts, opts.target, &fine.chosen.prepared.calibration).and_then(|coarse_opts| {
        let note = format!(" (scales capped at 2^{}, for comparison)", calibration::COARSE_SCALE);
        quantize_and_plan(onnx, samples, &hints, &coarse_opts, reference, opts.target, max_error, &plan_opts, &note, progress).ok()
    });
    let cost = |q: &Quantized| rank(&q.candidates[0]) as f64;
    let error = |q: &Quantized| q.chosen.tried.last().map_or(f64::INFINITY, |t| t.max_rel_error);
    let chosen = match coarse {
        Some(coarse) if !keep_finer(cost(&fine), cost(&coarse), error(&fine), error(&coarse)) => coarse,
        _ => fine,
    };
    let Quantized { chosen: calibration::Chosen { prepared, fidelity, .. }, qin, candidates } = chosen;
    let srs_source = opts.srs.clone().unwrap_or(SrsSource::InsecureTest);
    let model_hash = sha256_hex(onnx);
    // With private parameters the keys do not depend on their values: they are named by
    // the architecture (the graph with every parameter 0) and the visibility.
    let keyed = if private_params { prepared.quant.architecture() } else { prepared.quant.clone() };
    let quant_json = serde_json::to_vec(&keyed).expect("quantized graphs serialize");

    // Candidate shapes, best first for `plan.optimize`. The first is taken, unless a
    // shape ranked within SINGLE_CONTRACT_SLACK of it has a verifier that fits one
    // contract; otherwise the verifier is split into contracts under EIP-170. Many
    // instances alone rule one contract out (snark-verifier spends about 165 bytes on each).
    let num_instances = InstanceLayout::new(&prepared.quant, &plan_opts.visibility).len();
    let best = rank(&candidates[0]) as f64;
    let tries = if num_instances * VERIFIER_BYTES_PER_INSTANCE < EIP170_LIMIT {
        candidates.iter().filter(|p| rank(p) as f64 <= best * SINGLE_CONTRACT_SLACK).count()
    } else {
        1
    };
    let mut first: Option<SizedShape> = None;
    let mut chosen: Option<SizedShape> = None;
    for planned in candidates.into_iter().take(tries) {
        let sized = size_shape(planned, &prepared.quant, &qin, &quant_json, &srs_source, num_instances, cache, progress)?;
        if tries == 1 || estimated_runtime_bytes(&sized.source) <= EIP170_LIMIT {
            chosen = Some(sized);
            break;
        }
        first.get_or_insert(sized);
    }
    // None fits one contract: the best shape, its verifier split.
    let SizedShape { planned, params, srs_info, settings_hash, keys, source } =
        chosen.or(first).expect("there is always a candidate");
    let keys_cached = matches!(keys, ShapeKeys::Cached(_));
    let keys = match keys {
        ShapeKeys::Cached(k) => k,
        ShapeKeys::Verifying(vk) => {
            let keys = step(
                progress,
                "key generation",
                || h2::keygen_pk_from(&params, vk, &prepared.quant, &qin, &planned.shape).map_err(ServiceError::from),
                |_| "proving key".to_string(),
            )?;
            cache.put(&settings_hash, &h2::write_pk(&keys.pk), &keys.shape);
            keys
        }
    };
    let verifier = step(
        progress,
        "generate and compile the Solidity verifier",
        || compile_halo2_verifier(source).map_err(ServiceError::from),
        |v| match v.parts.len() {
            0 => format!("{} bytes of runtime code (EIP-170 limit {EIP170_LIMIT})", v.entry.runtime_code.len()),
            n => format!(
                "split into {n} parts of {:?} bytes and an entry contract (EIP-170 limit {EIP170_LIMIT} each)",
                v.parts.iter().map(|p| p.runtime_code.len()).collect::<Vec<_>>()
            ),
        },
    )?;
    let settings = Settings {
        format_version: 1,
        model_hash,
        settings_hash,
        input_shapes: prepared.quant.inputs.iter().map(|p| p.shape.clone()).collect(),
        output_shapes: prepared.quant.outputs.iter().map(|p| p.shape.clone()).collect(),
        calibration: prepared.calibration.clone(),
        shape: keys.shape.clone(),
        stats: planned.stats,
        num_instances,
        srs: srs_info,
        fidelity: Some(fidelity),
        verifier_runtime_bytes: verifier.largest_runtime(),
        verifier_contracts: verifier.contracts(),
    };
    Ok(Compiled { settings, quant: prepared.quant, params, keys, verifier, keys_cached })
}

/// A finer activation scale is kept when its best shape costs at most this much more
/// than the coarser scale's (and its error is lower).
const FINER_SCALE_SLACK: f64 = 1.25;

/// Whether the finer scale's setting (best-shape cost and relative error) is kept over
/// the coarser one's: at most [`FINER_SCALE_SLACK`] dearer and strictly more precise.
pub fn keep_finer(cost_fine: f64, cost_coarse: f64, error_fine: f64, error_coarse: f64) -> bool {
    cost_fine <= cost_coarse * FINER_SCALE_SLACK && error_fine < error_coarse
}

/// A quantized model with its first sample's integer inputs and its candidate shapes.
struct Quantized {
    chosen: calibration::Chosen,
    qin: Vec<Vec<i64>>,
    candidates: Vec<Plan>,
}

/// Calibrates and quantizes with `quant_opts`, then plans the candidate shapes; `note`
/// follows the progress steps' names.
#[allow(clippy::too_many_arguments)]
fn quantize_and_plan(
    onnx: &[u8],
    samples: &[Vec<Vec<f64>>],
    hints: &zkinfer_models::onnx::ShapeHints,
    quant_opts: &QuantOptions,
    reference: Option<&[Vec<f64>]>,
    target: Target,
    max_error: f64,
    plan_opts: &PlanOptions,
    note: &str,
    progress: &dyn Progress,
) -> Result<Quantized, ServiceError> {
    let chosen = step(
        progress,
        &format!("calibrate and quantize{note}"),
        || calibration::search(onnx, samples, hints, quant_opts, reference, target, max_error),
        |c| {
            let p = &c.prepared;
            format!(
                "scale 2^{} (params 2^{}), {} bits, {} setting(s) tried",
                p.calibration.scale,
                p.calibration.param_scale,
                p.calibration.bits,
                c.tried.len()
            )
        },
    )?;
    let qin = interp::quantize_inputs(&chosen.prepared.quant, &samples[0])?;
    interp::run(&chosen.prepared.quant, &qin)?;
    let candidates = step(
        progress,
        &format!("plan the circuit layout{note}"),
        || plan_candidates::<Fr>(&chosen.prepared.quant, &qin, plan_opts).map_err(ServiceError::from),
        |c| {
            let p = &c[0].stats;
            let mac = if p.mac_width > 0 { format!(", MAC gate {} wide in {} group(s)", p.mac_width, p.mac_sets) } else { String::new() };
            let more = if c.len() > 1 { format!(" ({} other shapes in reserve)", c.len() - 1) } else { String::new() };
            format!("k = {}, {} advice + {} lookup columns, {} rows{mac}{more}", p.k, p.num_advice, p.num_lookup_advice, p.rows)
        },
    )?;
    Ok(Quantized { chosen, qin, candidates })
}

/// A candidate shape with its SRS, settings hash, keys and verifier source.
struct SizedShape {
    planned: Plan,
    params: ParamsKZG<Bn256>,
    srs_info: SrsInfo,
    settings_hash: String,
    keys: ShapeKeys,
    source: String,
}

/// The keys of a sized shape: both from the key cache, or the verifying key alone (the
/// verifier depends on it only) with the proving key still to generate.
enum ShapeKeys {
    Cached(Halo2Keys),
    Verifying(VerifyingKey<G1Affine>),
}

/// Loads the SRS for `planned`, names its settings, and builds its verifying key (the
/// verifier depends on it alone) unless the key cache has the keys.
#[allow(clippy::too_many_arguments)]
fn size_shape(
    planned: Plan,
    quant: &QuantGraph,
    qin: &[Vec<i64>],
    quant_json: &[u8],
    srs_source: &SrsSource,
    num_instances: usize,
    cache: &dyn KeyCache,
    progress: &dyn Progress,
) -> Result<SizedShape, ServiceError> {
    let (params, srs_info) = step(progress, "load the SRS", || srs_for(srs_source, planned.stats.k, cache), |(_, i)| {
        if i.kind == "insecure-test" {
            "INSECURE locally generated test SRS (pass --srs FILE for a ceremony SRS)".to_string()
        } else {
            format!("{} (sha256 {})", i.path.clone().unwrap_or_default(), &i.sha256[..16])
        }
    })?;
    let params_json = serde_json::to_vec(&planned.shape.params).expect("params serialize");
    // Visibility changes the circuit without always changing its parameters; the
    // default (all public) adds nothing, so older settings hashes stay the same.
    let vis = planned.shape.visibility;
    let vis_json = serde_json::to_vec(&vis).expect("visibility serializes");
    // The circuit version names the lowering: keys cached by an older one never match.
    let mut parts: Vec<&[u8]> = vec![quant_json, &params_json, srs_info.sha256.as_bytes(), CIRCUIT_VERSION.as_bytes()];
    if vis != VisibilityConfig::default() {
        parts.push(&vis_json);
    }
    let settings_hash = sha256_parts(&parts);
    let cached = cache.get(&settings_hash).and_then(|(bytes, shape)| h2::read_pk(&bytes, &shape).ok().map(|pk| Halo2Keys { pk, shape }));
    let keys = match cached {
        Some(k) => ShapeKeys::Cached(k),
        None => ShapeKeys::Verifying(step(
            progress,
            "verifying key",
            || h2::keygen_vk_only(&params, quant, qin, &planned.shape).map_err(ServiceError::from),
            |_| "fixed columns committed".to_string(),
        )?),
    };
    let vk = match &keys {
        ShapeKeys::Cached(k) => k.vk(),
        ShapeKeys::Verifying(vk) => vk,
    };
    let source = halo2_verifier_source(&params, vk, num_instances);
    Ok(SizedShape { planned, params, srs_info, settings_hash, keys, source })
}

/// How much dearer (by the planner's ranking) a shape may be than the best and still be
/// preferred for fitting its verifier in one contract. A split verifier costs about 15k gas
/// more per part and a multi-contract deployment, little next to 10% of proving time.
const SINGLE_CONTRACT_SLACK: f64 = 1.10;

/// Runtime bytes snark-verifier's verifier spends per public instance (Lagrange
/// evaluation and its batch inversion), measured on self_attention's 1,171.
const VERIFIER_BYTES_PER_INSTANCE: usize = 165;

/// A proof with what it proves.
#[derive(Clone, Debug)]
pub struct ProofBundle {
    /// Dequantized outputs, per graph output.
    pub outputs: Vec<Vec<f64>>,
    pub instances: Vec<Fr>,
    pub proof: Vec<u8>,
    pub prove_seconds: f64,
}

/// Quantizes the inputs, checks them against the interpreter and proves.
pub fn prove(
    quant: &QuantGraph,
    params: &ParamsKZG<Bn256>,
    keys: &Halo2Keys,
    sample: &[Vec<f64>],
) -> Result<ProofBundle, ServiceError> {
    let qin = interp::quantize_inputs(quant, sample)?;
    // Fails early, naming the node, if an input leaves the calibrated range.
    let trace = interp::run(quant, &qin)?;
    let t0 = Instant::now();
    let proof = h2::prove(params, keys, quant, &qin)?;
    let prove_seconds = t0.elapsed().as_secs_f64();
    let vis = keys.shape.visibility;
    let outs = trace.outputs(quant);
    if proof.instances != native_instances(quant, &vis, &qin, &outs) {
        return Err(ServiceError::Internal("circuit witness differs from the reference interpreter".into()));
    }
    let outputs = match outputs_from_instances(quant, &vis, &proof.instances)? {
        Some(o) => o,
        // Private or hashed outputs: the prover's own values (for hashed ones the
        // instance commits to them, see [`check_output_hash`]).
        None => outs.iter().map(|o| o.iter().map(|q| quant.dequantize(*q)).collect()).collect(),
    };
    Ok(ProofBundle { outputs, instances: proof.instances, proof: proof.proof, prove_seconds })
}

/// The dequantized outputs that public instances stand for (the packed instances hold
/// the public inputs, then the public outputs: see `zkinfer_circuits::instances`);
/// `None` when the outputs are private or hashed.
pub fn outputs_from_instances(
    quant: &QuantGraph,
    visibility: &VisibilityConfig,
    instances: &[Fr],
) -> Result<Option<Vec<Vec<f64>>>, ServiceError> {
    let layout = InstanceLayout::new(quant, visibility);
    if instances.len() != layout.len() {
        return Err(ServiceError::Input(format!("{} public instances, the circuit has {}", instances.len(), layout.len())));
    }
    let (n_in, n_out) = (layout.n_in, layout.n_out);
    let values = public::unpack(&instances[layout.packed_range()], n_in + n_out, quant.bits)
        .ok_or_else(|| ServiceError::Input("the public instances are not a valid packing of this model's values".into()))?;
    if n_out == 0 {
        return Ok(None);
    }
    let mut at = n_in;
    let mut outs = Vec::new();
    for p in &quant.outputs {
        let n: usize = p.shape.iter().product();
        outs.push(values[at..at + n].iter().map(|q| quant.dequantize(*q as i64)).collect());
        at += n;
    }
    Ok(Some(outs))
}

/// Whether two lists of dequantized outputs stand for the same quantized values.
/// Compared as integers: JSON float parsing need not round-trip the last bit.
pub fn same_outputs(quant: &QuantGraph, a: &[Vec<f64>], b: &[Vec<f64>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len() && x.iter().zip(y).all(|(u, v)| quant.quantize_value(*u) == quant.quantize_value(*v))
        })
}

/// Quantizes dequantized values (as a proof file carries them) back to the integers
/// the circuit used, rounding to the grid (JSON need not round-trip the last bit).
fn requantize(quant: &QuantGraph, values: &[Vec<f64>]) -> Result<Vec<i128>, ServiceError> {
    values
        .iter()
        .flatten()
        .map(|x| {
            // Rounded to the grid: JSON float parsing need not round-trip the last bit.
            let q = quant.quantize_value(*x);
            if !q.is_finite() {
                return Err(ServiceError::Input(format!("output {x} is not a number")));
            }
            Ok(q as i128)
        })
        .collect()
}

/// For hashed outputs: whether `outputs` (dequantized, per graph output) are the values
/// the output-hash instance commits to. `Ok(None)` when the outputs are not hashed.
pub fn check_output_hash(
    quant: &QuantGraph,
    visibility: &VisibilityConfig,
    instances: &[Fr],
    outputs: &[Vec<f64>],
) -> Result<Option<bool>, ServiceError> {
    let layout = InstanceLayout::new(quant, visibility);
    let Some(at) = layout.output_hash_index() else { return Ok(None) };
    let slot = instances.get(at).ok_or_else(|| ServiceError::Input("the proof lacks the output hash instance".into()))?;
    let shapes_ok = outputs.len() == quant.outputs.len()
        && outputs.iter().zip(&quant.outputs).all(|(o, p)| o.len() == p.shape.iter().product::<usize>());
    if !shapes_ok {
        return Ok(Some(false));
    }
    Ok(Some(hash_packed(&requantize(quant, outputs)?, quant.bits) == *slot))
}

/// The Poseidon hash of the quantized inputs of `sample`: the instance a proof with
/// hashed inputs carries first ([`zkinfer_circuits::hash`]).
pub fn input_hash(quant: &QuantGraph, sample: &[Vec<f64>]) -> Result<Fr, ServiceError> {
    let qin = interp::quantize_inputs(quant, sample)?;
    Ok(hash_packed(&qin.iter().flatten().map(|v| *v as i128).collect::<Vec<_>>(), quant.bits))
}

/// The Poseidon hash of the model's quantized parameters in canonical order: the
/// instance a proof with hashed parameters carries after the input hash.
pub fn param_hash(quant: &QuantGraph) -> Result<Fr, ServiceError> {
    if !quant.private_params {
        return Err(ServiceError::Input("this model was compiled with fixed parameters (--param-visibility fixed): the verifying key binds them, there is no parameter hash".into()));
    }
    Ok(zkinfer_circuits::instances::param_hash(quant))
}

/// Native verification.
pub fn verify(params: &ParamsKZG<Bn256>, keys_vk: &halo2_base::halo2_proofs::plonk::VerifyingKey<halo2_base::halo2_proofs::halo2curves::bn256::G1Affine>, instances: &[Fr], proof: &[u8]) -> bool {
    h2::verify(params, keys_vk, instances, proof)
}

/// Verification in an in-process EVM: `(accepted, gas used)`.
pub fn verify_evm(verifier: &VerifierCode, instances: &[Fr], proof: &[u8]) -> Result<(bool, u64), ServiceError> {
    let r = verify_on_evm(verifier, instances, proof)?;
    Ok((r.accepted, r.gas_used))
}
