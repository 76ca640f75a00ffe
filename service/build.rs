//! Generates the gRPC types and stubs from `proto/zkinfer/v1/prover.proto` with a
//! vendored `protoc` (no system protobuf compiler is needed), and writes the encoded file
//! descriptor set that server reflection serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().file_descriptor_set_path(out_dir.join("zkinfer_v1_descriptor.bin")).compile_with_config(
        config,
        &["proto/zkinfer/v1/prover.proto"],
        &["proto"],
    )?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
