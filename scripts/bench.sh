#!/usr/bin/env bash
# The operator's performance budget on a local stack (kube-apiserver + etcd, the AWS emulator,
# the operator as a process): prints one table, each figure beside its budget, PASS or MISS.
# --short is the reduced form for CI (20 plans + 20 windows, 20 s observation); the full form
# (1,000 + 1,000, 120 s) is the default. Other arguments go to target/debug/bench (--help).
# Built with the dev profile, as the tests are. Exits 0 when a budget is missed; non-zero
# only when something fails outright.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

scripts/setup-machine.sh >/dev/null
scripts/setup-k8s.sh >/dev/null
scripts/setup-emulator.sh >/dev/null

cargo build --quiet --workspace --bins
BENCH_COMMAND="scripts/bench.sh${*:+ $*}" exec target/debug/bench "$@"
