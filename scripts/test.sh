#!/usr/bin/env bash
# Runs every check and test of the project on this machine, installing what they need first
# (system packages need root or sudo): formatting, lints, the Rust unit and integration tests
# on a real kube-apiserver with etcd and the AWS emulator, the emulator's own tests, and the
# chart, Terraform and GitOps checks.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

scripts/setup-machine.sh
scripts/setup-k8s.sh >/dev/null
scripts/setup-emulator.sh >/dev/null
scripts/setup-tools.sh >/dev/null

export KUBEBUILDER_ASSETS="$repo/target/k8s"

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== emulator tests"
target/emulator-venv/bin/python -m pytest emulator/tests -q -p no:cacheprovider

if [ -x gitops/test/run.sh ]; then
  echo "== GitOps health check tests"
  gitops/test/run.sh
fi

echo "== cargo test"
cargo test --workspace --no-fail-fast

echo "== benchmark (short form, to keep it working; figures are not checked here)"
scripts/bench.sh --short
