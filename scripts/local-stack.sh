#!/usr/bin/env bash
# Runs the operator against a local stack: a real kube-apiserver and etcd, the AWS emulator
# seeded with the ScotAccount topology, the example resources, a visible failover to eu-west-1
# and a maintenance window. Ctrl-C stops everything. Arguments go to the local-stack program
# (--transition-seconds N, --exit-when-done).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

scripts/setup-machine.sh
scripts/setup-k8s.sh >/dev/null
scripts/setup-emulator.sh >/dev/null

cargo build --quiet --workspace --bins
exec target/debug/local-stack "$@"
