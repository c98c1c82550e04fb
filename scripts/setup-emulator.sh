#!/usr/bin/env bash
# Create (or reuse) the Python virtual environment for the local AWS emulator.
#
#   scripts/setup-emulator.sh            # idempotent; prints the python path last
#
# The venv lives at $REPO/target/emulator-venv. A stamp file holding the hash of
# emulator/requirements.txt (plus the interpreter version) lets repeated runs
# skip the install when nothing changed.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
VENV="$REPO/target/emulator-venv"
REQS="$REPO/emulator/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON_BIN="${PYTHON:-python3}"

if ! command -v "$PYTHON_BIN" >/dev/null 2>&1; then
    echo "setup-emulator: $PYTHON_BIN not found" >&2
    exit 1
fi

want="$( { cat "$REQS"; "$PYTHON_BIN" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    echo "setup-emulator: up to date ($VENV)" >&2
else
    echo "setup-emulator: installing into $VENV" >&2
    mkdir -p "$REPO/target"
    if [[ ! -x "$VENV/bin/python" ]]; then
        "$PYTHON_BIN" -m venv "$VENV"
    fi
    rm -f "$STAMP"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r "$REQS" >&2
    "$VENV/bin/python" -c 'import moto, boto3, pytest, werkzeug' >&2
    echo "$want" > "$STAMP"
fi

echo "$VENV/bin/python"
