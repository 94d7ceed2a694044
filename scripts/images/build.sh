#!/usr/bin/env bash
# Builds tokenroute's images with podman (or docker: CONTAINER_CLI=docker) from the repo's
# Dockerfile: the EPP (tokenroute/epp) and the filter's OCI Wasm image (tokenroute/filter).
#   BUILD_IMAGE / RUNTIME_IMAGE  base images; unset on a machine without a registry → the local
#                                bases of scripts/images/bases.sh
#   TOKENROUTE_IMAGE_TAG         tag (default: package.json's version)
#   TARGETS                      "epp filter" (default both)
# The build reaches the npm registry (npm ci) and, without Envoy's protos in .cache, Maven Central.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cli="${CONTAINER_CLI:-podman}"
tag="${TOKENROUTE_IMAGE_TAG:-$(node -p "require('$root/package.json').version")}"

if [[ -z "${BUILD_IMAGE:-}" || -z "${RUNTIME_IMAGE:-}" ]]; then
  eval "$(bash "$here/bases.sh" | grep -E '^(BUILD|RUNTIME)_IMAGE=')"
fi

for target in ${TARGETS:-epp filter}; do
  echo "images: building tokenroute/$target:$tag (base $BUILD_IMAGE → $RUNTIME_IMAGE)"
  "$cli" build --network=host --target "$target" \
    --build-arg "BUILD_IMAGE=$BUILD_IMAGE" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" \
    -t "localhost/tokenroute/$target:$tag" -f "$root/Dockerfile" "$root"
done
