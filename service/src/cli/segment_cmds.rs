//! `zkinfer compile-segments`, `prove-segments`, `join-segments`, `verify-segments` (and `deploy` of such a folder): a model too large
//! for one circuit (or for this machine's memory at its `k`), proved as segments chained
//! by the hashes of the values crossing each cut. Only one segment's proving key is in
//! memory at a time.
//!
//! The folder holds `segments.json` (the manifest), `quant.json` (the whole quantized
//! graph), `srs.bin` (the SRS at the largest segment `k`), `chain.hex` (the
//! `ZkinferSegmentChain` creation code, constructor arguments not appended) and one
//! `segment-I/` per segment with `graph.json`, `shape.json`, `pk.bin`, `vk.bin` and
//! `verifier.json`. A proof file holds every segment's instances and proof (a part, from
//! `prove-segments --segment`, some segments' only, until `join-segments`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{CircuitShape, Fr, InstanceLayout, VisibilityConfig};
use zkinfer_compiler::progress::{step, Progress};
use zkinfer_compiler::segments::{compile_segments, plan_segmented, SegmentOptions};
use zkinfer_compiler::{CompileInput, Environment, SrsInfo, SrsSource};
use zkinfer_models::input_json::InputData;
use zkinfer_models::quant::QuantGraph;
use zkinfer_prover::halo2::{self as h2, Halo2Keys, Halo2Proof};
use zkinfer_prover::segments::{segment_inputs, verify_chain, SegmentVerifier};
use zkinfer_prover::srs;
use zkinfer_verifier_contracts::segments::{build_segment_chain, deploy_segment_chain, verify_chain_on_evm};
use zkinfer_verifier_contracts::{encode_calldata, Evm, VerifierCode};

use super::chain_cmds::{print_deployment, runtime};
use super::progress::TermProgress;
use super::CompileFlags;
use crate::chain::{connect, deploy_segments, load_key, verify_segments_on_chain, Deployment};
use crate::environment::Tools;
use crate::fsio::{read, read_json, write_atomic};
use crate::keycache::DiskKeyCache;
use crate::proof_file::{fr_from_hex, fr_to_hex};

/// Format of `segments.json`.
const MANIFEST_FORMAT: u32 = 1;

/// `segments.json`.
#[derive(Serialize, Deserialize)]
struct Manifest {
    format: u32,
    /// SHA-256 of the ONNX file.
    model_hash: String,
    segments: Vec<SegmentEntry>,
}

#[derive(Serialize, Deserialize)]
struct SegmentEntry {
    /// Node range of the whole quantized graph this segment runs.
    nodes: [usize; 2],
    k: u32,
    rows: usize,
    num_instances: usize,
    visibility: VisibilityConfig,
    srs: SrsInfo,
    verifier_runtime_bytes: usize,
}

/// A proof file of `prove-segments` (every segment, or with `--segment` a part of the
/// chain that `join-segments` puts together with the other parts).
#[derive(Serialize, Deserialize)]
struct SegmentProofs {
    /// SHA-256 of the folder's `segments.json`: parts of different compiles are not joined
    /// (absent in files of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    folder: Option<String>,
    /// Written by `prove-segments --segment`: some segments only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    part: bool,
    segments: Vec<SegmentProof>,
    /// The model's outputs (dequantized), as the last segment's public instances state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outputs: Option<Vec<Vec<f64>>>,
}

#[derive(Clone, Serialize, Deserialize)]
struct SegmentProof {
    /// Which segment (absent in files of earlier versions, which hold every segment in
    /// order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    segment: Option<usize>,
    instances: Vec<String>,
    proof: String,
}

impl SegmentProof {
    fn encode(segment: usize, p: &Halo2Proof) -> SegmentProof {
        SegmentProof {
            segment: Some(segment),
            instances: p.instances.iter().map(fr_to_hex).collect(),
            proof: format!("0x{}", hex::encode(&p.proof)),
        }
    }

    fn decode(&self) -> Result<Halo2Proof> {
        let instances = self.instances.iter().map(|h| fr_from_hex(h)).collect::<Result<Vec<_>, _>>()?;
        let proof = hex::decode(self.proof.trim_start_matches("0x")).context("the proof is not hex")?;
        Ok(Halo2Proof { instances, proof })
    }
}

impl SegmentProofs {
    /// The proofs of a whole chain, in segment order: refuses a part (a file that
    /// `prove-segments --segment` wrote for some segments only).
    fn whole(&self, n: usize, path: &Path) -> Result<Vec<Halo2Proof>> {
        let held: Vec<usize> = self.segments.iter().enumerate().map(|(i, p)| p.segment.unwrap_or(i)).collect();
        if self.part {
            bail!(
                "{} holds segment(s) {} of {n}: a part, to be joined with the others by `zkinfer join-segments`",
                path.display(),
                list(&held)
            );
        }
        if let Some((i, s)) = held.iter().enumerate().find(|(i, s)| *i != **s) {
            bail!("{}: the proof of segment {s} is in place {i}", path.display());
        }
        self.segments.iter().map(SegmentProof::decode).collect::<Result<Vec<_>>>().with_context(|| format!("{}", path.display()))
    }
}

/// `0, 2, 3`.
fn list(xs: &[usize]) -> String {
    xs.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

fn seg_dir(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("segment-{i}"))
}

/// `zkinfer compile-segments`.
pub fn compile(model: &Path, input: &Path, out: &Path, flags: &CompileFlags, seg: SegmentOptions, tools: &Tools) -> Result<()> {
    let progress = TermProgress::default();
    let opts = flags.options.options();
    let onnx = read(model)?;
    let input_data = InputData::from_path(input)?;
    let calibration = match &flags.calibration {
        Some(p) => InputData::from_path(p)?,
        None => input_data.clone(),
    };
    let samples = calibration.samples();
    let env = Environment {
        srs: match &flags.srs {
            Some(p) => SrsSource::File { path: p.display().to_string(), bytes: Arc::new(read(p)?) },
            None => SrsSource::InsecureTest,
        },
        groth16_pk: None,
        solc: tools.solc.clone(),
    };
    let ci = CompileInput { onnx: &onnx, samples: &samples, input_shapes: input_data.input_shapes.as_deref(), reference: None };
    let plan = plan_segmented(&ci, &opts, &seg, &progress)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(&out.join("quant.json"), &serde_json::to_vec(plan.quant())?)?;
    let max_k = plan.segments.iter().map(|s| s.candidates[0].stats.k).max().unwrap_or(seg.max_k);
    let mut entries = Vec::new();
    let cache = DiskKeyCache::default_location();
    compile_segments(&plan, &env, &cache, &progress, &mut |c| {
        let d = seg_dir(out, c.index);
        let io = |e: crate::error::ServiceError| zkinfer_compiler::CompileError::Artifact {
            name: d.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(&d)
            .map_err(|e| zkinfer_compiler::CompileError::Artifact { name: d.display().to_string(), message: e.to_string() })?;
        write_atomic(&d.join("graph.json"), &serde_json::to_vec(&c.graph).expect("graphs serialize")).map_err(io)?;
        write_atomic(&d.join("shape.json"), &serde_json::to_vec(&c.keys.shape).expect("shapes serialize")).map_err(io)?;
        write_atomic(&d.join("pk.bin"), &h2::write_pk(&c.keys.pk)).map_err(io)?;
        write_atomic(&d.join("vk.bin"), &h2::write_vk(c.keys.vk())).map_err(io)?;
        write_atomic(&d.join("verifier.json"), c.verifier.code().to_json().as_bytes()).map_err(io)?;
        if c.stats.k == max_k && !out.join("srs.bin").exists() {
            write_atomic(&out.join("srs.bin"), &srs::write_srs(&c.params)).map_err(io)?;
        }
        entries.push(SegmentEntry {
            nodes: [c.nodes.start, c.nodes.end],
            k: c.stats.k,
            rows: c.stats.rows,
            num_instances: c.num_instances,
            visibility: c.visibility,
            srs: c.srs.clone(),
            verifier_runtime_bytes: c.verifier.largest_runtime(),
        });
        Ok(())
    })?;
    let chain = build_segment_chain(&tools.solc)?;
    write_atomic(&out.join("chain.hex"), format!("0x{}", hex::encode(&chain.deployment_code)).as_bytes())?;
    let manifest = Manifest { format: MANIFEST_FORMAT, model_hash: zkinfer_compiler::hash::sha256_hex(&onnx), segments: entries };
    write_atomic(&out.join("segments.json"), &serde_json::to_vec_pretty(&manifest)?)?;
    for (i, e) in manifest.segments.iter().enumerate() {
        println!(
            "segment {i}: nodes {}..{}, k = {}, {} rows, {} instances, verifier {} bytes",
            e.nodes[0], e.nodes[1], e.k, e.rows, e.num_instances, e.verifier_runtime_bytes
        );
    }
    if manifest.segments.iter().any(|e| e.srs.is_insecure()) {
        eprintln!("warning: INSECURE test SRS; pass --srs FILE with a ceremony SRS for production");
    }
    Ok(())
}

/// A compiled folder's manifest and whole graph.
fn load(dir: &Path) -> Result<(Manifest, QuantGraph, Vec<QuantGraph>)> {
    let m: Manifest = read_json(&dir.join("segments.json"))?;
    if m.format != MANIFEST_FORMAT {
        bail!("{}: manifest format {} (this zkinfer reads {MANIFEST_FORMAT})", dir.display(), m.format);
    }
    let quant: QuantGraph = read_json(&dir.join("quant.json"))?;
    let graphs =
        (0..m.segments.len()).map(|i| read_json(&seg_dir(dir, i).join("graph.json")).map_err(Into::into)).collect::<Result<Vec<_>>>()?;
    Ok((m, quant, graphs))
}

/// `zkinfer prove-segments`: every segment, or with `only` (`--segment`) those segments,
/// as a part for `join-segments` (to prove a model's segments on several machines, each
/// with the compiled folder). Every segment's inputs come from one run of the integer
/// interpreter over the whole model, so the parts need not be proved in order.
pub fn prove(dir: &Path, input: &Path, out: &Path, only: &[usize]) -> Result<()> {
    let progress = TermProgress::default();
    let (m, quant, graphs) = load(dir)?;
    let n = graphs.len();
    let mut chosen: Vec<usize> = if only.is_empty() { (0..n).collect() } else { only.to_vec() };
    chosen.sort_unstable();
    chosen.dedup();
    if let Some(bad) = chosen.iter().find(|i| **i >= n) {
        bail!("--segment {bad}: {} has {n} segments (0 to {})", dir.display(), n - 1);
    }
    let sample = InputData::from_path(input)?.samples().into_iter().next().unwrap_or_default();
    let qin = zkinfer_models::interp::quantize_inputs(&quant, &sample)?;
    let inputs = step(&progress as &dyn Progress, "witness values", || segment_inputs(&quant, &graphs, &qin), |_| String::new())?;
    let srs_bytes = read(&dir.join("srs.bin"))?;
    let mut proofs = Vec::with_capacity(chosen.len());
    let t0 = std::time::Instant::now();
    for &i in &chosen {
        let d = seg_dir(dir, i);
        let params = srs::read_srs(&srs_bytes, m.segments[i].k)?;
        let shape: CircuitShape = read_json(&d.join("shape.json"))?;
        let proof = step(
            &progress as &dyn Progress,
            &format!("segment {i} of {n}: load key and prove (k = {})", m.segments[i].k),
            || -> Result<Halo2Proof> {
                let pk = h2::read_pk(&read(&d.join("pk.bin"))?, &shape)?;
                Ok(h2::prove(&params, &Halo2Keys { pk, shape: shape.clone() }, &graphs[i], &inputs[i])?)
            },
            |p| format!("{} bytes", p.proof.len()),
        )?;
        proofs.push(proof);
    }
    let part = chosen.len() < n;
    let outputs = if part { None } else { last_outputs(&m, &graphs, &proofs[n - 1].instances)? };
    let segments = chosen.iter().zip(&proofs).map(|(&i, p)| SegmentProof::encode(i, p)).collect();
    let file = SegmentProofs { folder: Some(folder_hash(dir)?), part, segments, outputs: outputs.clone() };
    write_atomic(out, &serde_json::to_vec_pretty(&file)?)?;
    let seconds = t0.elapsed().as_secs_f64();
    if part {
        eprintln!(
            "proofs of segment(s) {} of {n} written to {} ({seconds:.1} s to prove): join the parts with `zkinfer join-segments`",
            list(&chosen),
            out.display()
        );
    } else {
        println!("{}", serde_json::to_string(&serde_json::json!({ "outputs": outputs }))?);
        eprintln!("{n} segment proofs written to {} ({seconds:.1} s to prove)", out.display());
    }
    Ok(())
}

/// The model's outputs that the last segment's public instances state (dequantized).
fn last_outputs(m: &Manifest, graphs: &[QuantGraph], instances: &[Fr]) -> Result<Option<Vec<Vec<f64>>>> {
    let last = graphs.len() - 1;
    zkinfer_prover::statement::public_outputs(&graphs[last], &m.segments[last].visibility, instances).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `zkinfer join-segments`: the parts that `prove-segments --segment` wrote, one proof
/// file of the whole chain, after checking that they come from this folder, that every
/// segment is proved exactly once and that the chain verifies natively (so parts proved
/// for different inputs are refused here, naming the first segment that does not
/// follow).
pub fn join(dir: &Path, parts: &[PathBuf], out: &Path) -> Result<()> {
    let (m, _, graphs) = load(dir)?;
    let n = graphs.len();
    let folder = folder_hash(dir)?;
    let mut slots: Vec<Option<(SegmentProof, &Path)>> = vec![None; n];
    for path in parts {
        let file: SegmentProofs = read_json(path)?;
        if file.folder.as_deref() != Some(folder.as_str()) {
            bail!("{} was not proved with {} (another compile of the segments, or an older zkinfer)", path.display(), dir.display());
        }
        for (i, p) in file.segments.iter().enumerate() {
            let s = p.segment.unwrap_or(i);
            if s >= n {
                bail!("{}: segment {s}, but {} has {n} segments", path.display(), dir.display());
            }
            if let Some((_, first)) = &slots[s] {
                bail!("segment {s} is proved in both {} and {}", first.display(), path.display());
            }
            slots[s] = Some((p.clone(), path.as_path()));
        }
    }
    let missing: Vec<usize> = (0..n).filter(|i| slots[*i].is_none()).collect();
    if !missing.is_empty() {
        bail!("no part holds segment(s) {} of {n}", list(&missing));
    }
    let segments: Vec<SegmentProof> = slots.into_iter().map(|s| s.expect("every segment is held").0).collect();
    let proofs = segments.iter().map(SegmentProof::decode).collect::<Result<Vec<_>>>()?;
    verify_native(dir, &m, &graphs, &proofs).context("the parts do not make a valid chain")?;
    let outputs = last_outputs(&m, &graphs, &proofs[n - 1].instances)?;
    let file = SegmentProofs { folder: Some(folder), part: false, segments, outputs: outputs.clone() };
    write_atomic(out, &serde_json::to_vec_pretty(&file)?)?;
    println!("{}", serde_json::to_string(&serde_json::json!({ "outputs": outputs }))?);
    eprintln!("{n} segment proofs from {} part(s) verified and written to {}", parts.len(), out.display());
    Ok(())
}

/// Every segment's proof and the hash chain, natively.
fn verify_native(dir: &Path, m: &Manifest, graphs: &[QuantGraph], proofs: &[Halo2Proof]) -> Result<()> {
    let srs_bytes = read(&dir.join("srs.bin"))?;
    let params = m.segments.iter().map(|s| srs::read_srs(&srs_bytes, s.k)).collect::<Result<Vec<_>, _>>()?;
    let vks = (0..m.segments.len())
        .map(|i| -> Result<_> {
            let shape: CircuitShape = read_json(&seg_dir(dir, i).join("shape.json"))?;
            Ok(h2::read_vk(&read(&seg_dir(dir, i).join("vk.bin"))?, &shape)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let verifiers: Vec<SegmentVerifier<'_>> = graphs
        .iter()
        .enumerate()
        .map(|(i, g)| SegmentVerifier { params: &params[i], vk: &vks[i], layout: InstanceLayout::new(g, &m.segments[i].visibility) })
        .collect();
    verify_chain(&verifiers, proofs).map_err(|e| anyhow::anyhow!("{e}"))
}

/// What deploying a compiled folder takes.
struct Contracts {
    /// SHA-256 of `segments.json` (which names every segment's verifier): a changed
    /// folder is deployed again.
    hash: String,
    /// Every segment's verifier.
    codes: Vec<VerifierCode>,
    /// The chain's creation code, constructor arguments not appended.
    chain: Vec<u8>,
    /// Each segment's public instances.
    counts: Vec<usize>,
}

/// SHA-256 of `dir/segments.json`: what `deployment.json` records of the folder.
fn folder_hash(dir: &Path) -> Result<String> {
    Ok(zkinfer_compiler::hash::sha256_hex(&read(&dir.join("segments.json"))?))
}

fn contracts(dir: &Path, m: &Manifest) -> Result<Contracts> {
    let hash = folder_hash(dir)?;
    let codes = (0..m.segments.len())
        .map(|i| VerifierCode::from_json(&String::from_utf8_lossy(&read(&seg_dir(dir, i).join("verifier.json"))?)).map_err(Into::into))
        .collect::<Result<Vec<_>>>()?;
    let chain_hex = String::from_utf8_lossy(&read(&dir.join("chain.hex"))?).trim().to_string();
    let chain = hex::decode(chain_hex.trim_start_matches("0x")).context("chain.hex")?;
    Ok(Contracts { hash, codes, chain, counts: m.segments.iter().map(|s| s.num_instances).collect() })
}

/// `zkinfer deploy` of a compile-segments folder: every segment's verifier and the
/// `ZkinferSegmentChain` over them, recorded in `DIR/deployment.json` (idempotent, as
/// for one circuit).
pub fn deploy(dir: &Path, rpc: &str, key_file: Option<&Path>) -> Result<()> {
    let (m, _, _) = load(dir)?;
    let c = contracts(dir, &m)?;
    let signer = load_key(key_file)?;
    runtime()?.block_on(async {
        let chain = connect(rpc, Some(signer)).await?;
        let (d, now) = deploy_segments(dir, &chain, &c.hash, &c.codes, &c.chain, &c.counts).await?;
        print_deployment(&d, now, dir);
        Ok(())
    })
}

/// `zkinfer verify-segments`: every segment's proof and the hash chain, natively, by the
/// segments' verifiers and `ZkinferSegmentChain` in revm (`evm`), or by the chain that
/// `zkinfer deploy` deployed at `rpc`. Prints the outputs the last segment's instances
/// state (on a chain: the instances the chain returned).
pub fn verify(dir: &Path, proof: &Path, evm: bool, rpc: Option<&str>) -> Result<()> {
    let (m, _, graphs) = load(dir)?;
    let file: SegmentProofs = read_json(proof)?;
    let proofs = file.whole(m.segments.len(), proof)?;
    let t0 = std::time::Instant::now();
    let calls = || proofs.iter().map(|p| encode_calldata(&p.instances, &p.proof)).collect::<Vec<Vec<u8>>>();
    let mut proven_last = proofs[proofs.len() - 1].instances.clone();
    if let Some(rpc) = rpc {
        let settings_hash = folder_hash(dir)?;
        let (r, chain_id) = runtime()?.block_on(async {
            let chain = connect(rpc, None).await?;
            let d = Deployment::read(dir, chain.chain_id)?.with_context(|| {
                format!("no deployment.json in {} for chain {}: run `zkinfer deploy` first", dir.display(), chain.chain_id)
            })?;
            if d.settings_hash != settings_hash {
                bail!("deployment.json is for segments {}, this folder is {settings_hash}: run `zkinfer deploy` again", d.settings_hash);
            }
            Ok::<_, anyhow::Error>((verify_segments_on_chain(&chain, &d, calls()).await?, chain.chain_id))
        })?;
        let gas = r.outcome.map_err(|why| anyhow::anyhow!("the on-chain ZkinferSegmentChain rejected the proofs: {why}"))?;
        // The outputs are read from what the chain returned, not from the file.
        proven_last = r.last.iter().map(|w| fr_from_hex(&format!("0x{w:064x}"))).collect::<Result<Vec<_>, _>>()?;
        println!("segment proofs valid on chain {chain_id} ({} segments, gas estimate {gas})", m.segments.len());
    } else if evm {
        let c = contracts(dir, &m)?;
        let chain = zkinfer_verifier_contracts::CompiledContract {
            name: "ZkinferSegmentChain".into(),
            deployment_code: c.chain,
            runtime_code: Vec::new(),
        };
        let mut vm = Evm::new();
        let at = deploy_segment_chain(&mut vm, &chain, &c.codes, &c.counts)?;
        let r = verify_chain_on_evm(&mut vm, at, &calls())?;
        if !r.accepted {
            bail!("ZkinferSegmentChain rejected the proofs (revert data 0x{})", hex::encode(&r.revert));
        }
        println!("segment proofs valid on the EVM ({} segments, {} gas)", m.segments.len(), r.gas_used);
    } else {
        verify_native(dir, &m, &graphs, &proofs).map_err(|e| anyhow::anyhow!("{}: {e}", proof.display()))?;
        println!("segment proofs valid ({} segments, {:.1} ms)", m.segments.len(), t0.elapsed().as_secs_f64() * 1e3);
    }
    if let Some(outputs) = last_outputs(&m, &graphs, &proven_last)? {
        // Compared as the quantized integers they stand for (JSON floats need not read
        // back to the last bit).
        let scale = 2f64.powi(graphs[graphs.len() - 1].scale as i32);
        let q = |o: &Vec<Vec<f64>>| o.iter().map(|v| v.iter().map(|x| (x * scale).round() as i64).collect::<Vec<_>>()).collect::<Vec<_>>();
        if file.outputs.as_ref().is_some_and(|o| q(o) != q(&outputs)) {
            bail!("the outputs in {} are not the ones its last segment's instances state", proof.display());
        }
        println!("{}", serde_json::to_string(&serde_json::json!({ "outputs": outputs }))?);
    }
    Ok(())
}
