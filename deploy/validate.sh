#!/usr/bin/env bash
# Validate the deployment kit offline: render the Helm chart with deploy/helm/render.py (no Helm
# binary is installable from the registries these machines reach), compare it with the plain
# manifests, and validate every object against the Kubernetes JSON schemas shipped by the
# `kubernetes-validate` PyPI package (strict: unknown fields fail). Needs python3 >= 3.11 and
# PyPI access on first run (the venv is cached).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${LLMTAP_VALIDATE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/llmtap/validate-venv}"
k8s_version="${LLMTAP_K8S_VERSION:-1.30.0}"

if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "kubernetes-validate==1.37.0" "PyYAML>=6"
fi
py="$venv/bin/python"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$py" "$here/helm/render.py" "$here/helm/llmtap" --namespace llmtap --out "$out/chart.yaml"
"$py" "$here/helm/render.py" "$here/helm/llmtap" --namespace llmtap \
    --set capabilities.sysResource=true --set seccompProfile.type=Unconfined \
    --set salt.createSecret=false --out "$out/chart-variant.yaml"
"$py" "$here/check_manifests.py" "$here/kubernetes" "$out/chart.yaml" "$out/chart-variant.yaml"

# kubernetes-validate reads one document per file reliably; split multi-document files.
"$py" - "$out/split" "$here"/kubernetes/*.yaml "$out/chart.yaml" "$out/chart-variant.yaml" <<'PY'
import sys, yaml, pathlib
dst = pathlib.Path(sys.argv[1]); dst.mkdir()
n = 0
for f in sys.argv[2:]:
    for d in yaml.safe_load_all(pathlib.Path(f).read_text()):
        if d:
            n += 1
            (dst / f"{n:03d}-{d['kind']}.yaml").write_text(yaml.safe_dump(d))
PY
for v in "$k8s_version" 1.37.0; do
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$v" "$out"/split/*.yaml
done
echo "validate.sh: manifests and chart valid against Kubernetes $k8s_version and 1.37.0 schemas"
