//! A prove job: witness, proof, self-check, artifacts.
//!
//! Phases (each a cancellation point): `witness` (quantize the input and run the
//! reference interpreter, which names the node if the input leaves the calibrated
//! range), `proving` (halo2, parallel through rayon), `verifying` (native verification
//! of the new proof: a proof that does not verify is never published), `storing`.
//! Crash safety: the artifacts are written before the transaction that marks the job
//! done; a crash before it re-runs the job after restart.

use std::collections::BTreeMap;

use zkinfer_circuits::Visibility;
use zkinfer_models::interp;
use zkinfer_verifier_contracts::encode_calldata;

use crate::pipeline;
use crate::proof_file::ProofFile;
use crate::store::{ArtifactName, ModelState, ProveResult};

use super::engine::Engine;
use super::loaded::LoadedModel;
use super::runner::{JobEnd, Running};
use super::now_ms;

/// The parts of a loaded halo2 model.
struct Halo2Model<'a> {
    settings: &'a crate::pipeline::Settings,
    quant: &'a zkinfer_models::quant::QuantGraph,
    params: &'a halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<halo2_base::halo2_proofs::halo2curves::bn256::Bn256>,
    keys: &'a zkinfer_prover::Halo2Keys,
}

impl Engine {
    pub(super) fn run_prove(&self, r: &Running<'_>) -> Result<(), JobEnd> {
        let model = self.model(&r.job.job.model_id)?;
        if model.state != ModelState::Ready {
            return Err(JobEnd::Failed(format!("model {} is {}, not ready", model.id, model.state)));
        }
        let input = r.job.job.input.clone().ok_or_else(|| JobEnd::Failed("the job has no input".into()))?;
        r.phase("loading keys", 5)?;
        let loaded = self.models.get_or_load(&model.id, || LoadedModel::load(&model, &self.blobs, &self.keys))?;
        let (settings, quant, params, keys) = match loaded.as_ref() {
            LoadedModel::Halo2 { settings, quant, params, keys } => (settings, quant, params, keys),
            LoadedModel::Groth16 { settings, prover } => return self.run_prove_groth16(r, settings, prover, &input),
        };
        let m = Halo2Model { settings, quant, params, keys };
        r.phase("witness", 10)?;
        let qin = interp::quantize_inputs(m.quant, &input).map_err(|e| JobEnd::Failed(format!("input: {e}")))?;
        interp::run(m.quant, &qin).map_err(|e| JobEnd::Failed(format!("input: {e}")))?;
        r.phase("proving", 25)?;
        if let Some(d) = self.cfg.test_pause_before_prove {
            r.pause(d)?;
        }
        let bundle = pipeline::prove(m.quant, m.params, m.keys, &input)?;
        r.phase("verifying", 85)?;
        if !pipeline::verify(m.params, m.keys.vk(), &bundle.instances, &bundle.proof) {
            return Err(JobEnd::Failed("internal error: the new proof does not verify".into()));
        }
        r.phase("storing", 95)?;
        let proof_file = ProofFile::new(&m.settings, &m.quant, &bundle);
        let instances = proof_file.instances.clone();
        let mut artifacts = BTreeMap::new();
        artifacts.insert(ArtifactName::PROOF.to_string(), self.blobs.put(&bundle.proof)?);
        artifacts.insert(ArtifactName::INSTANCES.to_string(), self.blobs.put(&serde_json::to_vec(&instances)?)?);
        artifacts.insert(ArtifactName::CALLDATA.to_string(), self.blobs.put(&encode_calldata(&bundle.instances, &bundle.proof))?);
        artifacts.insert(ArtifactName::PROOF_JSON.to_string(), self.blobs.put(&serde_json::to_vec_pretty(&proof_file)?)?);
        r.check_cancel()?;
        // With private outputs the proof attests no output values: none are reported.
        let proven_outputs = if m.keys.shape.visibility.outputs == Visibility::Public { bundle.outputs } else { Vec::new() };
        let result = ProveResult { proven_outputs, prove_seconds: bundle.prove_seconds, artifacts };
        if !self.store.finish_prove(&r.job.job.id, &result, now_ms())? {
            return Err(JobEnd::Failed("the job was no longer running when it finished".into()));
        }
        self.publish(&r.job.job.id);
        Ok(())
    }
}
