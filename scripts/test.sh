#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, clippy with warnings as errors, and every
# test (unit, golden, planner/executor on the in-memory fake, end to end against moto).
# Needs only the Rust toolchain and Python 3: moto goes into a git-ignored venv (.venv).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-env.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

echo "==> tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast
  # nextest does not run doctests
  cargo test --doc
else
  cargo test --no-fail-fast
fi
