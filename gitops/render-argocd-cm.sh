#!/usr/bin/env bash
# Writes argocd-cm.yaml from argocd-health.lua: one health key per kind, each holding the
# script unchanged. Run it after editing the script; tests/chart.rs fails while they differ.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
script="$here/argocd-health.lua"
out="$here/argocd-cm.yaml"

{
    cat <<'HEADER'
# Argo CD health for FailoverPlan and MaintenanceWindow: merge these keys into the argocd-cm
# ConfigMap of your Argo CD installation (kubectl -n argocd patch configmap argocd-cm
# --type merge --patch-file gitops/argocd-cm.yaml), or into configs.cm of the argo-cd chart.
# Both keys carry gitops/argocd-health.lua unchanged; a test keeps them in step with it.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
HEADER
    for kind in FailoverPlan MaintenanceWindow; do
        echo "  resource.customizations.health.ops.commandbridge.io_${kind}: |"
        # Indent every non-empty line; empty lines stay empty inside a YAML block scalar.
        sed -e 's/^\(.\)/    \1/' "$script"
    done
} >"$out.partial"
mv -f "$out.partial" "$out"
echo "wrote $out"
