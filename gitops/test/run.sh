#!/usr/bin/env bash
# Runs the Argo CD health script against every case in gitops/test/cases with each Lua
# interpreter present (Argo CD embeds a Lua 5.1 runtime; 5.4 catches newer-syntax slips).
#
#   gitops/test/run.sh        (apt-get install lua5.1 lua5.4 for the interpreters)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
script="$here/../argocd-health.lua"

interpreters=()
for candidate in lua5.1 lua5.4; do
    if command -v "$candidate" >/dev/null 2>&1; then
        interpreters+=("$candidate")
    fi
done
if [[ ${#interpreters[@]} -eq 0 ]] && command -v lua >/dev/null 2>&1; then
    interpreters+=(lua)
fi
if [[ ${#interpreters[@]} -eq 0 ]]; then
    echo "error: no Lua interpreter found; install one with: apt-get install lua5.1 lua5.4" >&2
    exit 1
fi

status=0
for lua in "${interpreters[@]}"; do
    echo "== $lua ($("$lua" -v 2>&1 | head -n 1))"
    "$lua" "$here/harness.lua" "$script" "$here"/cases/*.json || status=1
done
exit "$status"
