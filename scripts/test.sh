#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), then runs the whole suite.
# Builds go to $CARGO_TARGET_DIR (default ~/.cache/zkinfer/target) so that runs on the
# same machine reuse them; dependencies are optimized even in the test profile.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer/target}"
# shellcheck disable=SC2046 # the feature flags are words
cargo build --workspace --tests --quiet $(scripts/cargo-features.sh)
# shellcheck disable=SC2046
cargo test --workspace --no-fail-fast $(scripts/cargo-features.sh) "$@"
