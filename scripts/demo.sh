#!/usr/bin/env bash
# One command from a fresh machine to a verified proof: installs what is needed, builds
# zkinfer, then runs the whole chain on a sample model from models/zoo/ (or the folder
# given as $1, holding network.onnx and input.json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer/target}"
# shellcheck disable=SC2046 # the feature flags are words
cargo build --release --quiet -p zkinfer-service $(scripts/cargo-features.sh)
Z="$CARGO_TARGET_DIR/release/zkinfer"
MODEL_DIR="${1:-models/zoo/credit_mlp}"
OUT="${ZKINFER_DEMO_OUT:-$(mktemp -d)}"
set -x
"$Z" run "$MODEL_DIR/network.onnx" --input "$MODEL_DIR/input.json"
"$Z" compile "$MODEL_DIR/network.onnx" --input "$MODEL_DIR/input.json" --out "$OUT/compiled"
"$Z" prove "$OUT/compiled" --input "$MODEL_DIR/input.json" --out "$OUT/proof.json"
"$Z" verify "$OUT/compiled" "$OUT/proof.json"
"$Z" verify-evm "$OUT/compiled" "$OUT/proof.json"
