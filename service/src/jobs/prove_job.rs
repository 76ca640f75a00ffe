//! A prove job: witness, proof, self-check, artifacts.
//!
//! Phases (each a cancellation point): `witness` (quantize the input and run the
//! reference interpreter, which names the node if the input leaves the calibrated
//! range), `proving` (the model's backend, parallel through rayon), `verifying` (native verification
//! of the new proof: a proof that does not verify is never published), `storing`.
//! Crash safety: the artifacts are written before the transaction that marks the job
//! done; a crash before it re-runs the job after restart.

use std::collections::BTreeMap;

use crate::proof_file::ProofFile;
use crate::store::{ArtifactName, ModelState, ProveResult};

use super::engine::Engine;
use super::loaded;
use super::runner::{JobEnd, Running};

impl Engine {
    pub(super) fn run_prove(&self, r: &Running<'_>) -> Result<(), JobEnd> {
        let model = self.model(&r.job.job.model_id)?;
        if model.state != ModelState::Ready {
            return Err(JobEnd::Failed(format!("model {} is {}, not ready", model.id, model.state)));
        }
        let input = r.job.job.input.clone().ok_or_else(|| JobEnd::Failed("the job has no input".into()))?;
        r.phase("loading keys", 5)?;
        let loaded = self.models.get_or_load(&model.id, || loaded::load(&model, &self.blobs, &self.keys))?;
        self.bound_key_cache(&loaded.settings);
        r.phase("witness", 10)?;
        // The interpreter names the node when the input leaves the calibrated range.
        let witness = loaded.witness(&input).map_err(|e| JobEnd::Failed(format!("input: {e}")))?;
        r.phase("proving", 25)?;
        if let Some(d) = self.cfg.test_pause_before_prove {
            r.pause(d)?;
        }
        let proved = loaded.prove_witness(&witness).map_err(|e| JobEnd::Failed(format!("proving: {e}")))?;
        r.phase("verifying", 85)?;
        if let Err(e) = loaded.verify(&proved.proof, Some(&proved.outputs)) {
            return Err(JobEnd::Failed(format!("internal error: the new proof does not verify: {e}")));
        }
        r.phase("storing", 95)?;
        let proof_file = ProofFile::new(&loaded, &proved);
        let calldata = loaded.prover.calldata(&proved.proof).map_err(|e| JobEnd::Failed(format!("internal error: {e}")))?;
        let mut artifacts = BTreeMap::new();
        artifacts.insert(ArtifactName::PROOF.to_string(), self.blobs.put(&proved.proof.proof)?);
        artifacts.insert(ArtifactName::INSTANCES.to_string(), self.blobs.put(&serde_json::to_vec(&proof_file.instances)?)?);
        artifacts.insert(ArtifactName::CALLDATA.to_string(), self.blobs.put(&calldata)?);
        artifacts.insert(ArtifactName::PROOF_JSON.to_string(), self.blobs.put(&serde_json::to_vec_pretty(&proof_file)?)?);
        r.check_cancel()?;
        // With private outputs the proof attests no output values: none are reported.
        let proven_outputs =
            if loaded.settings.visibility().outputs == zkinfer_circuits::Visibility::Public { proved.outputs } else { Vec::new() };
        let result = ProveResult { proven_outputs, prove_seconds: proved.prove_seconds, artifacts };
        if !r.finish_prove(&result)? {
            return Err(JobEnd::Failed("the job was no longer running when it finished".into()));
        }
        self.publish(&r.job.job.id);
        Ok(())
    }
}
