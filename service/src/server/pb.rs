//! Types and stubs generated from `proto/zkinfer/v1/prover.proto` (see `build.rs`).

#![allow(missing_docs, clippy::all)]

tonic::include_proto!("zkinfer.v1");

/// The encoded file descriptor set of `zkinfer.v1`, served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("zkinfer_v1_descriptor");
