#!/usr/bin/env bash
# Installs what zkinfer needs at run time, idempotently, from the package registries only:
# - ONNX Runtime: the PyPI `onnxruntime` wheel in a virtual environment (its libonnxruntime.so
#   is loaded dynamically by the `ort` crate);
# - the Solidity compiler: the npm `solc` package 0.8.19 (runs offline through node);
# - anvil, Foundry's local Ethereum node (on-chain tests): the Linux x64 binary inside the
#   npm package `@foundry-rs/anvil-linux-amd64` (runs offline).
# Everything lands under $ZKINFER_HOME (default ~/.cache/zkinfer).
set -euo pipefail

ZKINFER_HOME="${ZKINFER_HOME:-$HOME/.cache/zkinfer}"
ORT_VERSION="${ZKINFER_ORT_VERSION:-1.32.0}"
SOLC_VERSION="0.8.19"
mkdir -p "$ZKINFER_HOME"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

need_apt() {
  if command -v apt-get >/dev/null 2>&1; then
    say "installing $* with apt-get"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq "$@" >/dev/null; fi
  else
    say "please install: $*"; exit 1
  fi
}

command -v cargo >/dev/null 2>&1 || { say "cargo not found: install Rust from rustup.rs"; exit 1; }
command -v python3 >/dev/null 2>&1 || need_apt python3 python3-venv
command -v node >/dev/null 2>&1 || need_apt nodejs npm
command -v npm >/dev/null 2>&1 || need_apt npm
command -v cc >/dev/null 2>&1 || need_apt build-essential

# ONNX Runtime (CPU wheel; on a CUDA machine set ZKINFER_ORT_PACKAGE=onnxruntime-gpu).
VENV="$ZKINFER_HOME/venv"
ORT_PACKAGE="${ZKINFER_ORT_PACKAGE:-onnxruntime}"
if ! "$VENV/bin/python" -c "import onnxruntime, sys; sys.exit(0 if onnxruntime.__version__ == '$ORT_VERSION' else 1)" >/dev/null 2>&1; then
  say "installing $ORT_PACKAGE==$ORT_VERSION into $VENV"
  python3 -m venv "$VENV" 2>/dev/null || { need_apt python3-venv; python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q --disable-pip-version-check "$ORT_PACKAGE==$ORT_VERSION" numpy
fi

# The Solidity compiler (soljson through node; no native binary download).
SOLC_DIR="$ZKINFER_HOME/solc"
if [ "$(node -e "try{console.log(require('$SOLC_DIR/node_modules/solc/package.json').version)}catch(e){}" 2>/dev/null)" != "$SOLC_VERSION" ]; then
  say "installing solc@$SOLC_VERSION into $SOLC_DIR"
  mkdir -p "$SOLC_DIR"
  (cd "$SOLC_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent --no-audit --no-fund "solc@$SOLC_VERSION" >/dev/null)
fi

# anvil (the binary ships inside the npm package; node is not needed to run it).
ANVIL_VERSION="1.7.1"
ANVIL_DIR="$ZKINFER_HOME/anvil"
ANVIL_PKG="$ANVIL_DIR/node_modules/@foundry-rs/anvil-linux-amd64"
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  if [ "$(node -e "try{console.log(require('$ANVIL_PKG/package.json').version)}catch(e){}" 2>/dev/null)" != "$ANVIL_VERSION" ] || [ ! -x "$ANVIL_PKG/bin/anvil" ]; then
    say "installing @foundry-rs/anvil-linux-amd64@$ANVIL_VERSION into $ANVIL_DIR"
    mkdir -p "$ANVIL_DIR"
    (cd "$ANVIL_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent --no-audit --no-fund "@foundry-rs/anvil-linux-amd64@$ANVIL_VERSION" >/dev/null)
  fi
else
  say "anvil: no npm binary for $(uname -s)-$(uname -m); on-chain tests need ZKINFER_ANVIL=/path/to/anvil"
fi
# The JSON-RPC client's TLS (alloy over hyper-tls) links the system OpenSSL.
pkg-config --exists openssl 2>/dev/null || need_apt pkg-config libssl-dev
say "ready: ONNX Runtime $ORT_VERSION, solc $SOLC_VERSION, anvil $ANVIL_VERSION (in $ZKINFER_HOME)"
