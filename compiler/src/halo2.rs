//! The halo2 backend's compile step: the fine/coarse scale choice, the layout plan, the
//! verifier-size shape choice under EIP-170, keys and the Solidity verifier.

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr};
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use zkinfer_circuits::{plan_candidates, CircuitShape, InstanceLayout, Plan, VisibilityConfig, CIRCUIT_VERSION};
use zkinfer_models::quant::QuantGraph;
use zkinfer_prover::halo2::{self as h2, Halo2Keys};
use zkinfer_prover::Halo2Prover;
use zkinfer_verifier_contracts::{compile_halo2_verifier, estimated_runtime_bytes, halo2_verifier_source, EIP170_LIMIT};

use crate::calibration::{self, Chosen};
use crate::compile::{calibrate, notes, CompileInput, CompiledModel, Environment};
use crate::error::CompileError;
use crate::hash::{sha256_hex, sha256_parts};
use crate::keycache::{files, KeyCache};
use crate::model::Model;
use crate::options::CompileOptions;
use crate::progress::{step, Progress};
use crate::settings::{CircuitSettings, Settings, SETTINGS_FORMAT};
use crate::srs::{srs_for, SrsInfo, SrsSource};

/// A finer activation scale is kept when its best shape costs at most this much more
/// than the coarser scale's (and its error is lower).
const FINER_SCALE_SLACK: f64 = 1.25;

/// How much dearer (by the planner's ranking) a shape may be than the best and still be
/// preferred for fitting its verifier in one contract. A split verifier costs about 15k gas
/// more per part and a multi-contract deployment, little next to 10% of proving time.
const SINGLE_CONTRACT_SLACK: f64 = 1.10;

/// Runtime bytes snark-verifier's verifier spends per public instance (Lagrange
/// evaluation and its batch inversion), measured on self_attention's 1,171.
const VERIFIER_BYTES_PER_INSTANCE: usize = 165;

/// Whether the finer scale's setting (best-shape cost and relative error) is kept over
/// the coarser one's: at most [`FINER_SCALE_SLACK`] dearer and strictly more precise.
pub fn keep_finer(cost_fine: f64, cost_coarse: f64, error_fine: f64, error_coarse: f64) -> bool {
    cost_fine <= cost_coarse * FINER_SCALE_SLACK && error_fine < error_coarse
}

/// Calibrates on the samples, quantizes, plans the circuit, runs (or reuses) key
/// generation and builds the Solidity verifier (split into contracts under EIP-170
/// when it does not fit in one).
/// What the compiler would build for a model, before keys: the chosen quantization (the
/// fine/coarse scale choice made), the first sample's quantized inputs, and the candidate
/// shapes best first. The benches and tools plan through this, so they describe the
/// circuit `compile` makes.
pub struct Planned {
    pub chosen: Chosen,
    pub qin: Vec<Vec<i64>>,
    pub candidates: Vec<Plan>,
}

/// Calibrates, quantizes and plans as [`crate::compile`] does for halo2, without keys.
pub fn plan(input: &CompileInput<'_>, opts: &CompileOptions, progress: &dyn Progress) -> Result<Planned, CompileError> {
    opts.validate()?;
    let quant_opts = opts.quant_options();
    let plan_opts = opts.plan_options();
    // What the planner ranks shapes by (lower is better).
    let rank = |p: &Plan| plan_opts.rank(&p.stats).0;
    let fine = quantize_and_plan(input, opts, &quant_opts, "", progress)?;
    // Scales finer than COARSE_SCALE are free in most graphs but widen some (a rescale's
    // remainder, a norm's variance): the coarser setting is also planned, and kept when
    // the finer one costs over FINER_SCALE_SLACK more or is no more precise (a coarser
    // setting that fails to quantize or plan leaves the finer one).
    let coarse = calibration::coarser(&quant_opts, opts.target, &fine.chosen.prepared.calibration).and_then(|coarse_opts| {
        let note = format!(" (scales capped at 2^{}, for comparison)", calibration::COARSE_SCALE);
        quantize_and_plan(input, opts, &coarse_opts, &note, progress).ok()
    });
    let cost = |q: &Planned| rank(&q.candidates[0]) as f64;
    let error = |q: &Planned| q.chosen.tried.last().map_or(f64::INFINITY, |t| t.max_rel_error);
    Ok(match coarse {
        Some(coarse) if !keep_finer(cost(&fine), cost(&coarse), error(&fine), error(&coarse)) => coarse,
        _ => fine,
    })
}

/// Calibrates on the samples, quantizes, plans the circuit, runs (or reuses) key
/// generation and builds the Solidity verifier (split into contracts under EIP-170
/// when it does not fit in one).
pub(crate) fn compile(
    input: &CompileInput<'_>,
    opts: &CompileOptions,
    env: &Environment,
    cache: &dyn KeyCache,
    progress: &dyn Progress,
) -> Result<CompiledModel, CompileError> {
    let plan_opts = opts.plan_options();
    let rank = |p: &Plan| plan_opts.rank(&p.stats).0;
    let chosen = plan(input, opts, progress)?;
    let notes = notes(opts, &chosen.chosen);
    let Planned { chosen: Chosen { prepared, fidelity, tried }, qin, candidates } = chosen;
    // With private parameters the keys do not depend on their values: they are named by
    // the architecture (the graph with every parameter 0) and the visibility.
    let keyed = if opts.private_params() { prepared.quant.architecture() } else { prepared.quant.clone() };
    let quant_json = serde_json::to_vec(&keyed).expect("quantized graphs serialize");

    // Candidate shapes, best first for the optimize option. The first is taken, unless a
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
    let mut sized_choice: Option<SizedShape> = None;
    for planned in candidates.into_iter().take(tries) {
        let sized = size_shape(planned, &prepared.quant, &qin, &quant_json, &env.srs, num_instances, cache, progress)?;
        if tries == 1 || estimated_runtime_bytes(&sized.source) <= EIP170_LIMIT {
            sized_choice = Some(sized);
            break;
        }
        if first.is_none() {
            let mut sized = sized;
            // Kept aside while other shapes are tried: the verifying key alone.
            if let ShapeKeys::Verifying(stage) = &mut sized.keys {
                stage.release_parts();
            }
            first = Some(sized);
        }
    }
    // None fits one contract: the best shape, its verifier split.
    let SizedShape { planned, params, srs_info, settings_hash, keys, source } =
        sized_choice.or(first).expect("there is always a candidate");
    let keys_cached = matches!(keys, ShapeKeys::Cached(_));
    let keys = match keys {
        ShapeKeys::Cached(k) => k,
        ShapeKeys::Verifying(vk) => {
            let keys = step(
                progress,
                "key generation",
                || h2::keygen_pk_from(&params, vk, &prepared.quant, &qin).map_err(CompileError::from),
                |_| "proving key".to_string(),
            )?;
            // pk first: a shape without its key is never visible.
            if cache.put(&settings_hash, files::HALO2_PK, &h2::write_pk(&keys.pk)) {
                cache.put(&settings_hash, files::HALO2_SHAPE, &serde_json::to_vec(&keys.shape).expect("shapes serialize"));
            }
            keys
        }
    };
    let verifier = step(
        progress,
        "generate and compile the Solidity verifier",
        || compile_halo2_verifier(&env.solc, source).map_err(CompileError::from),
        |v| match v.parts.len() {
            0 => format!("{} bytes of runtime code (EIP-170 limit {EIP170_LIMIT})", v.entry.runtime_code.len()),
            n => format!(
                "split into {n} parts of {:?} bytes and an entry contract (EIP-170 limit {EIP170_LIMIT} each)",
                v.parts.iter().map(|p| p.runtime_code.len()).collect::<Vec<_>>()
            ),
        },
    )?;
    let settings = Settings {
        format_version: SETTINGS_FORMAT,
        model_hash: sha256_hex(input.onnx),
        settings_hash,
        options: opts.clone(),
        input_shapes: prepared.quant.inputs.iter().map(|p| p.shape.clone()).collect(),
        output_shapes: prepared.quant.outputs.iter().map(|p| p.shape.clone()).collect(),
        calibration: prepared.calibration.clone(),
        fidelity,
        tried,
        num_instances,
        verifier_runtime_bytes: verifier.largest_runtime(),
        verifier_contracts: verifier.contracts(),
        notes,
        circuit: CircuitSettings::Halo2 { shape: keys.shape.clone(), stats: planned.stats, srs: srs_info },
    };
    let prover = Halo2Prover::new(params, keys, prepared.quant);
    Ok(CompiledModel { model: Model { settings, prover: Box::new(prover) }, verifier, keys_cached })
}

/// Calibrates and quantizes with `quant_opts`, then plans the candidate shapes; `note`
/// follows the progress steps' names.
fn quantize_and_plan(
    input: &CompileInput<'_>,
    opts: &CompileOptions,
    quant_opts: &zkinfer_models::QuantOptions,
    note: &str,
    progress: &dyn Progress,
) -> Result<Planned, CompileError> {
    let (chosen, qin) = calibrate(input, opts, quant_opts, note, progress)?;
    let plan_opts = opts.plan_options();
    let candidates = step(
        progress,
        &format!("plan the circuit layout{note}"),
        || plan_candidates::<Fr>(&chosen.prepared.quant, &qin, &plan_opts).map_err(CompileError::from),
        |c| {
            let p = &c[0].stats;
            let mac = if p.mac_width > 0 { format!(", MAC gate {} wide in {} group(s)", p.mac_width, p.mac_sets) } else { String::new() };
            let more = if c.len() > 1 { format!(" ({} other shapes in reserve)", c.len() - 1) } else { String::new() };
            format!("k = {}, {} advice + {} lookup columns, {} rows{mac}{more}", p.k, p.num_advice, p.num_lookup_advice, p.rows)
        },
    )?;
    Ok(Planned { chosen, qin, candidates })
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
// A few per compile, moved, never stored in bulk: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum ShapeKeys {
    Cached(Halo2Keys),
    Verifying(h2::VerifyingKeyStage),
}

/// The settings hash of a halo2 circuit (see [`crate::compile`]).
pub fn settings_hash(quant_json: &[u8], shape: &CircuitShape, srs_sha256: &str) -> String {
    let params_json = serde_json::to_vec(&shape.params).expect("params serialize");
    // Visibility changes the circuit without always changing its parameters; the
    // default (all public) adds nothing, so older settings hashes stay the same.
    let vis = shape.visibility;
    let vis_json = serde_json::to_vec(&vis).expect("visibility serializes");
    // The circuit version names the lowering: keys cached by an older one never match.
    let mut parts: Vec<&[u8]> = vec![quant_json, &params_json, srs_sha256.as_bytes(), CIRCUIT_VERSION.as_bytes()];
    if vis != VisibilityConfig::default() {
        parts.push(&vis_json);
    }
    sha256_parts(&parts)
}

/// The keys cached under `settings_hash`, if both files are there and read back.
fn cached_keys(cache: &dyn KeyCache, settings_hash: &str) -> Option<Halo2Keys> {
    let shape: CircuitShape = serde_json::from_slice(&cache.get(settings_hash, files::HALO2_SHAPE)?).ok()?;
    let pk = h2::read_pk(&cache.get(settings_hash, files::HALO2_PK)?, &shape).ok()?;
    Some(Halo2Keys { pk, shape })
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
) -> Result<SizedShape, CompileError> {
    let (params, srs_info) = step(
        progress,
        "load the SRS",
        || srs_for(srs_source, planned.stats.k, cache),
        |(_, i)| {
            if i.is_insecure() {
                "INSECURE locally generated test SRS (give a ceremony SRS file for production)".to_string()
            } else {
                format!("{} (sha256 {})", i.path.clone().unwrap_or_default(), &i.sha256[..16])
            }
        },
    )?;
    let settings_hash = settings_hash(quant_json, &planned.shape, &srs_info.sha256);
    let keys = match cached_keys(cache, &settings_hash) {
        Some(k) => ShapeKeys::Cached(k),
        None => ShapeKeys::Verifying(step(
            progress,
            "verifying key",
            || h2::keygen_vk_stage(&params, quant, qin, &planned.shape).map_err(CompileError::from),
            |_| "fixed columns committed".to_string(),
        )?),
    };
    let vk = match &keys {
        ShapeKeys::Cached(k) => k.vk(),
        ShapeKeys::Verifying(stage) => &stage.vk,
    };
    let source = halo2_verifier_source(&params, vk, num_instances);
    Ok(SizedShape { planned, params, srs_info, settings_hash, keys, source })
}
