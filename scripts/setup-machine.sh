#!/usr/bin/env bash
# Installs the system packages the tests and the local stack need (Debian/Ubuntu): etcd for
# the local Kubernetes control plane, python3-venv for the AWS emulator, unzip for helm.
# Does nothing when they are already there; needs root (or sudo) otherwise.
set -euo pipefail

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
