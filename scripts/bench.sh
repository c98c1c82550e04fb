#!/usr/bin/env bash
# The operator's performance budget on a local stack (kube-apiserver + etcd, the AWS emulator,
# the operator as a process): prints one table, each figure beside its budget, PASS or MISS.
#
#   scripts/bench.sh           full form: 1,000 plans + 1,000 windows, 120 s observation, on
#                              the operator as the image ships it (the release profile of
#                              Cargo.toml, which the Dockerfile builds)
#   scripts/bench.sh --short   reduced form for CI (20 + 20, 20 s) on the dev build the tests
#                              already made, to keep the benchmark working; figures not judged
#
# Other arguments go to target/debug/bench (--help). Exits 0 when a budget is missed; non-zero
# only when something fails outright.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

scripts/setup-machine.sh >/dev/null
scripts/setup-k8s.sh >/dev/null
scripts/setup-emulator.sh >/dev/null

cargo build --quiet --workspace --bins

operator=()
if [[ " $* " != *" --short "* && " $* " != *" --operator "* ]]; then
  echo "building the release binary as the Dockerfile does (several minutes the first time)" >&2
  cargo build --quiet --release --locked --bin commandbridge-operator
  operator=(--operator "$repo/target/release/commandbridge-operator")
fi

BENCH_COMMAND="scripts/bench.sh${*:+ $*}" exec target/debug/bench "$@" "${operator[@]}"
