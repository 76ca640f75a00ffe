//! The `zkinfer` command line.

pub mod chain_cmds;
pub mod commands;
pub mod conformance_cmd;
pub mod progress;
pub mod segment_cmds;
pub mod service_cmds;
pub mod worker_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::environment::ToolArgs;

/// zkinfer: prove ONNX model inference with halo2 (KZG over BN254), verify natively and on the EVM.
#[derive(Parser, Debug)]
#[command(name = "zkinfer", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The compile options, one flag each: shared by `compile` and `register`, so both
/// front ends compile the same circuit for the same flags. Unset flags are unset options
/// (the compiler's defaults); a flag the chosen backend does not support is an error.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OptionFlags {
    /// Proof system: `halo2` (universal SRS) or `groth16` (circuit-specific setup, cheapest to verify on-chain).
    #[arg(long, default_value = "halo2")]
    pub backend: zkinfer_prover::Backend,
    /// Calibration search target: `accuracy` (most precise setting) or `resources`
    /// (cheapest setting within --max-error, 1% by default: 24-bit activations, scales up to 2^8).
    #[arg(long, default_value = "accuracy")]
    pub target: zkinfer_compiler::Target,
    /// Refuse to compile unless the quantized model stays within this relative error
    /// (max |error| over the output's range) on every calibration sample.
    #[arg(long)]
    pub max_error: Option<f64>,
    /// Activations satisfy |q| < 2^(bits-1) (default: 32; 24 with --target resources).
    #[arg(long)]
    pub bits: Option<u32>,
    /// Fixed activation scale (fractional bits) instead of the calibrated one.
    #[arg(long)]
    pub scale: Option<u32>,
    /// Fixed weight scale (fractional bits) instead of the calibrated one.
    #[arg(long)]
    pub param_scale: Option<u32>,
    /// Use exactly this k (log2 of the rows; halo2).
    #[arg(long)]
    pub k: Option<u32>,
    /// Largest k the planner may choose (halo2; default 23).
    #[arg(long)]
    pub max_k: Option<u32>,
    /// Most advice columns, lookup columns included (halo2): few give the least gas, more
    /// the fastest proofs. Default: 3 below k = 16 and 6 from there on; a circuit that
    /// needs k >= 14 (16) that way may also take up to 6 (24) columns at a smaller k,
    /// when its estimated proving time is lower.
    #[arg(long)]
    pub max_advice: Option<usize>,
    /// Width of the multiply-accumulate gate for dense and conv layers (halo2): dot
    /// products over the same inputs accumulated side by side (0: never use it).
    /// Default: the planner uses it, at the width of least proving cost, when the plain
    /// layout would need k >= 14.
    #[arg(long)]
    pub mac_width: Option<usize>,
    /// What the layout planner optimizes among the shapes that fit (halo2): `prove`
    /// (least proving time, the default; a proof estimated under about a second takes the
    /// cheapest verifier among those that fast), `gas` (fewest verifier commitments: least
    /// verification gas, at a slower proof), `balanced` (least product of the two estimates)
    /// or `speed` (least proving time whatever the gas: smaller k, many more columns).
    #[arg(long)]
    pub optimize: Option<zkinfer_circuits::layout::Optimize>,
    /// Inputs as public instances (`public`), private witness (`private`), or private
    /// witness with their Poseidon hash as one public instance (`hashed`).
    #[arg(long, default_value = "public")]
    pub input_visibility: zkinfer_circuits::Visibility,
    /// Outputs as public instances (`public`), private witness (`private`), or private
    /// witness with their Poseidon hash as one public instance (`hashed`).
    #[arg(long, default_value = "public")]
    pub output_visibility: zkinfer_circuits::Visibility,
    /// Weights and biases as constants bound by the verifying key (`fixed`), private
    /// witness (`private`: the key serves every weight set of the architecture that
    /// quantizes to the same scales, and binds none), or private witness with their
    /// Poseidon hash as one public instance (`hashed`). Pin --scale and --param-scale to
    /// share one key across weight sets that calibrate differently.
    #[arg(long, default_value = "fixed")]
    pub param_visibility: zkinfer_circuits::ParamVisibility,
}

impl OptionFlags {
    /// The compile options these flags set (explicit defaults normalized away).
    pub fn options(&self) -> zkinfer_compiler::CompileOptions {
        zkinfer_compiler::CompileOptions {
            backend: self.backend,
            target: self.target,
            max_error: self.max_error,
            bits: self.bits,
            scale: self.scale,
            param_scale: self.param_scale,
            k: self.k,
            max_k: self.max_k,
            max_advice: self.max_advice,
            mac_width: self.mac_width,
            optimize: self.optimize,
            input_visibility: self.input_visibility,
            output_visibility: self.output_visibility,
            param_visibility: self.param_visibility,
        }
        .normalized()
    }
}

/// Flags of `compile`: the options, and where the calibration data, SRS and imported keys come from.
#[derive(clap::Args, Debug, Clone)]
pub struct CompileFlags {
    /// Calibration samples (EZKL input format, one or several samples); defaults to --input.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// A KZG SRS in halo2's format (from a ceremony); without it an INSECURE test SRS is generated (halo2).
    #[arg(long)]
    pub srs: Option<PathBuf>,
    /// With `--backend groth16`: import this proving key (from a ceremony) instead of a local setup.
    #[arg(long)]
    pub groth16_pk: Option<PathBuf>,
    #[command(flatten)]
    pub options: OptionFlags,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Float inference through ONNX Runtime; prints the outputs as JSON.
    Run {
        model: PathBuf,
        #[arg(long)]
        input: PathBuf,
        /// cpu or cuda (needs the onnxruntime-gpu wheel).
        #[arg(long, default_value = "cpu")]
        device: String,
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Calibrate, quantize, build the circuit, run key generation and emit the Solidity verifier into DIR.
    Compile {
        model: PathBuf,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        flags: CompileFlags,
        /// Print the settings as JSON on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Build the witness and prove; writes outputs, public instances and proof to --out.
    Prove {
        dir: PathBuf,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the Poseidon hash (0x-hex) of the quantized input (the first public instance of
    /// a proof compiled with `--input-visibility hashed`) or, with --params, of DIR's
    /// quantized weights and biases (the instance after it with `--param-visibility hashed`).
    Hash {
        dir: PathBuf,
        #[arg(long, required_unless_present = "params", conflicts_with = "params")]
        input: Option<PathBuf>,
        #[arg(long)]
        params: bool,
    },
    /// Native verification: exit 0 only if the proof is valid for these outputs.
    Verify { dir: PathBuf, proof: PathBuf },
    /// Like compile, for a model proved as segments (too large for one circuit, or for this
    /// machine's memory): cut where few values cross, each segment within --segment-k,
    /// keys and a Solidity verifier per segment, chained by the hashes of the crossing values.
    CompileSegments {
        model: PathBuf,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Largest k of any segment.
        #[arg(long, default_value_t = 20)]
        segment_k: u32,
        /// Segments to start with (0: as many as the model's cells need); one that does not
        /// fit --segment-k is cut again.
        #[arg(long, default_value_t = 0)]
        segments: usize,
        #[command(flatten)]
        flags: CompileFlags,
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Prove every segment of a compile-segments folder, one proving key in memory at a time;
    /// with --segment only those (a part: prove the segments on several machines at once,
    /// then put the parts together with join-segments).
    ProveSegments {
        dir: PathBuf,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Prove only these segments (from 0; repeat or separate by commas).
        #[arg(long, value_delimiter = ',')]
        segment: Vec<usize>,
    },
    /// Put together the parts that `prove-segments --segment` wrote (each segment exactly
    /// once, all for DIR) into one proof file, after verifying the chain natively.
    JoinSegments {
        dir: PathBuf,
        /// The parts.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify every segment's proof and the hash chain between them (natively; with --evm
    /// by the segments' verifiers and ZkinferSegmentChain in revm; with --rpc by the ones
    /// `zkinfer deploy DIR` deployed on that chain); prints the proven outputs.
    VerifySegments {
        dir: PathBuf,
        proof: PathBuf,
        #[arg(long, conflicts_with = "rpc")]
        evm: bool,
        /// JSON-RPC URL of a chain where `zkinfer deploy` deployed DIR's contracts.
        #[arg(long)]
        rpc: Option<String>,
    },
    /// Deploy DIR's verifier in an in-process EVM (revm) and call it; prints the gas used.
    /// With --rpc: call the contracts `zkinfer deploy` deployed on that chain instead
    /// (eth_call and a gas estimate; no key needed).
    VerifyEvm {
        dir: PathBuf,
        proof: PathBuf,
        /// JSON-RPC URL of a chain where `zkinfer deploy` deployed DIR's contracts.
        #[arg(long)]
        rpc: Option<String>,
    },
    /// Deploy a ZkinferCoordinator (verifier-contracts/contracts/) to a chain; prints its address.
    DeployCoordinator {
        /// JSON-RPC URL.
        #[arg(long)]
        rpc: String,
        /// File holding the deployer's hex private key (else the ZKINFER_PRIVATE_KEY variable).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Seconds a request stays open before its requester may reclaim the fee.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Register DIR's deployed attestor (deployment.json) with a coordinator under a model
    /// id: --model-id (a server's model id), else DIR's settings hash.
    RegisterOnchain {
        dir: PathBuf,
        #[arg(long)]
        coordinator: String,
        #[arg(long)]
        model_id: Option<String>,
        /// JSON-RPC URL.
        #[arg(long)]
        rpc: String,
        /// File holding the model owner's hex private key (else the ZKINFER_PRIVATE_KEY variable).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Deploy DIR's verifier (every part of a split one) and attestor to a chain (a
    /// compile-segments folder: every segment's verifier and the ZkinferSegmentChain over
    /// them); writes DIR/deployment.json. Rerunning finds them (by code hash) and deploys nothing.
    Deploy {
        dir: PathBuf,
        /// JSON-RPC URL.
        #[arg(long)]
        rpc: String,
        /// File holding the deployer's hex private key (else the ZKINFER_PRIVATE_KEY variable).
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Compile, prove and verify every model folder under DIR; prints a table, writes a JSON report.
    Conformance {
        dir: PathBuf,
        /// Write the JSON report here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Only these models (comma-separated folder names).
        #[arg(long)]
        only: Option<String>,
        /// Also verify each proof in the EVM with the generated Solidity verifier.
        #[arg(long)]
        evm: bool,
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Run the gRPC proving service (jobs, artifacts, health, reflection) on a data directory.
    Serve(Box<crate::config::ServeArgs>),
    /// Claim and run jobs from a shared job store (PostgreSQL); no gRPC port.
    Worker(worker_cmd::WorkerArgs),
    /// Register a model with a running server (compiling runs there as a job); prints its id.
    Register {
        model: PathBuf,
        /// Calibration inputs (EZKL input.json, one or several samples).
        #[arg(long)]
        calibration: PathBuf,
        /// The compile options, as `compile` takes them.
        #[command(flatten)]
        options: OptionFlags,
        /// Wait for the compile job to finish.
        #[arg(long)]
        wait: bool,
        /// Let other tenants submit jobs to the model and fetch its verifier artifacts.
        #[arg(long)]
        shared: bool,
        /// Also let them fetch the weights (ONNX, quantized graph); refused for private or hashed parameters.
        #[arg(long)]
        share_weights: bool,
        #[command(flatten)]
        client: service_cmds::ClientArgs,
    },
    /// Change your sharing of a model you own on a running server (no flag: stop sharing it).
    Share {
        model_id: String,
        /// Share the model: other tenants may submit jobs and fetch its verifier artifacts.
        #[arg(long)]
        shared: bool,
        /// Share its weights too (implies --shared).
        #[arg(long)]
        share_weights: bool,
        #[command(flatten)]
        client: service_cmds::ClientArgs,
    },
    /// Print the audit trail of a running server, newest first (admin keys only).
    Audit {
        /// Only this tenant's entries.
        #[arg(long)]
        tenant: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        client: service_cmds::ClientArgs,
    },
    /// Submit a proving job to a running server; prints the job id and the float answer.
    Submit {
        model_id: String,
        input: PathBuf,
        #[arg(long, default_value_t = 0)]
        priority: i32,
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Follow the job until it ends.
        #[arg(long)]
        watch: bool,
        #[command(flatten)]
        client: service_cmds::ClientArgs,
    },
    /// Show a job of a running server (--watch: follow its state changes until it ends).
    Job {
        id: String,
        #[arg(long)]
        watch: bool,
        #[command(flatten)]
        client: service_cmds::ClientArgs,
    },
    /// Download an artifact of a job or model from a running server.
    Fetch {
        /// A job id, or a model id for model artifacts.
        id: String,
        /// proof, instances, calldata, proof-json, vk, verifier-sol, verifier-bin, settings, srs, quant, onnx.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        client: service_cmds::ClientArgs,
    },
}
