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
set +x

# The same proof on a real chain: anvil (installed by setup.sh) on a free loopback port,
# the verifier and the model's attestor deployed with anvil's documented dev key, then
# checked by the deployed contracts (eth_call and the gas estimate).
ANVIL="${ZKINFER_ANVIL:-${ZKINFER_HOME:-$HOME/.cache/zkinfer}/anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"
if [ -x "$ANVIL" ]; then
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$ANVIL" --host 127.0.0.1 --port "$PORT" --quiet --hardfork prague &
  ANVIL_PID=$!
  trap 'kill "$ANVIL_PID" 2>/dev/null' EXIT
  for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
    sleep 0.2
  done
  export ZKINFER_PRIVATE_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil's dev key 0
  set -x
  "$Z" deploy "$OUT/compiled" --rpc "http://127.0.0.1:$PORT"
  "$Z" verify-evm "$OUT/compiled" "$OUT/proof.json" --rpc "http://127.0.0.1:$PORT"
else
  echo "anvil not installed: skipping the on-chain part" >&2
fi
