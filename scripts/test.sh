#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), then runs the whole suite.
# Builds go to $CARGO_TARGET_DIR (default ~/.cache/zkinfer/target) so that runs on the
# same machine reuse them; dependencies are optimized even in the test profile.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# PostgreSQL server binaries for the job store tests (they run a throwaway cluster as an
# unprivileged user; nothing is started here).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  echo "[test] installing postgresql with apt-get" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi
fi
# A local S3-compatible server for the s3:// artifact store tests: PyPI's moto[server]
# (it stands in for a cloud bucket; the tests start it on 127.0.0.1 and stop it).
MOTO_VENV="${ZKINFER_HOME:-$HOME/.cache/zkinfer}/moto"
if ! "$MOTO_VENV/bin/python" -c "import moto.server" >/dev/null 2>&1; then
  echo "[test] installing moto[server] into $MOTO_VENV" >&2
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==5.2.5"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer/target}"
# Formatting and lints first: they fail in seconds.
cargo fmt --all -- --check
# shellcheck disable=SC2046 # the feature flags are words
cargo clippy --workspace --all-targets --quiet $(scripts/cargo-features.sh) -- -D warnings
# shellcheck disable=SC2046
cargo build --workspace --tests --quiet $(scripts/cargo-features.sh)
# shellcheck disable=SC2046
cargo test --workspace --no-fail-fast $(scripts/cargo-features.sh) "$@"
