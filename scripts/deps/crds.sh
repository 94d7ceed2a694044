#!/usr/bin/env bash
# The real CRDs the chart and manifest dry-runs are checked against, from the Go modules that
# publish them (`go mod download`, never committed), copied into <repo>/.cache/crds/<name>/:
#   gateway-api          sigs.k8s.io/gateway-api            config/crd/standard + experimental
#   istio                istio.io/api                       kubernetes/customresourcedefinitions.gen.yaml
#   envoy-gateway        github.com/envoyproxy/gateway      charts/gateway-crds-helm/templates/generated
#                        (Helm templates of plain CRDs: the {{ if }} / {{ end }} lines are dropped)
#   prometheus-operator  github.com/prometheus-operator/prometheus-operator  example/prometheus-operator-crd
# Envoy AI Gateway's module (github.com/envoyproxy/ai-gateway) is not served by this machine's
# module proxy; its CRDs are not checked here. Idempotent: a complete cache is reused.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$DEPS_REPO_ROOT/.cache/crds"
MODULES=(
  "gateway-api sigs.k8s.io/gateway-api v1.6.3 config/crd/experimental"
  "istio istio.io/api v1.32.0 kubernetes/customresourcedefinitions.gen.yaml"
  "envoy-gateway github.com/envoyproxy/gateway v1.9.1 charts/gateway-crds-helm/templates/generated"
  "prometheus-operator github.com/prometheus-operator/prometheus-operator v0.85.0 example/prometheus-operator-crd"
)
stamp="$OUT/.modules"
want="$(printf '%s\n' "${MODULES[@]}")"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "crds: cached in $OUT"
  exit 0
fi
rm -rf "$OUT" && mkdir -p "$OUT"
for entry in "${MODULES[@]}"; do
  read -r name module version path <<<"$entry"
  dir="$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$dir" && -e "$dir/$path" ]] || { echo "crds: $module@$version has no $path" >&2; exit 1; }
  mkdir -p "$OUT/$name"
  if [[ -d "$dir/$path" ]]; then
    find "$dir/$path" -maxdepth 1 -name '*.yaml' -exec cp {} "$OUT/$name/" \;
  else
    cp "$dir/$path" "$OUT/$name/"
  fi
  chmod -R u+w "$OUT/$name"
  sed -i '/^{{.*}}$/d' "$OUT/$name"/*.yaml
  echo "crds: $name from $module@$version ($(ls "$OUT/$name" | wc -l) files)"
done
echo "$want" >"$stamp"
