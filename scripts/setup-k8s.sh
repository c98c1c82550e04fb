#!/usr/bin/env bash
# Unpacks the Kubernetes control-plane binaries used by the integration tests and the
# local demo stack into target/k8s, next to a link to the host's etcd. Safe to run again:
# binaries already unpacked from the same archive are left alone.
#
#   COMMANDBRIDGE_K8S_DIR  folder holding kube-apiserver.xz and kube-controller-manager.xz
#                          (default: ../shared/k8s beside the repository)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source_dir="${COMMANDBRIDGE_K8S_DIR:-$repo/../shared/k8s}"
dest="$repo/target/k8s"

if ! command -v xz >/dev/null 2>&1; then
    echo "error: xz is not installed (apt-get install xz-utils)" >&2
    exit 1
fi

mkdir -p "$dest"

for name in kube-apiserver kube-controller-manager; do
    archive="$source_dir/$name.xz"
    if [[ ! -f "$archive" ]]; then
        echo "error: $archive not found; set COMMANDBRIDGE_K8S_DIR to the folder holding $name.xz" >&2
        exit 1
    fi
    target="$dest/$name"
    # Unpack when missing or older than the archive; write to a temporary name first so an
    # interrupted run never leaves a truncated binary behind.
    if [[ ! -x "$target" || "$archive" -nt "$target" ]]; then
        echo "unpacking $name into $dest"
        xz -dc "$archive" >"$target.partial"
        chmod +x "$target.partial"
        mv -f "$target.partial" "$target"
        touch "$target"
    fi
done

etcd_bin="$(command -v etcd || true)"
if [[ -z "$etcd_bin" ]]; then
    echo "error: no etcd binary on PATH; install it with: apt-get install etcd-server" >&2
    exit 1
fi
ln -sfn "$etcd_bin" "$dest/etcd"

"$dest/kube-apiserver" --version
"$dest/etcd" --version | head -n 1

echo
echo "export KUBEBUILDER_ASSETS=$dest"
