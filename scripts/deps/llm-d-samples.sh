#!/usr/bin/env bash
# Fetch the sample EndpointPickerConfigs llm-d-inference-scheduler ships in deploy/config/ (the
# configs llm-d users start from) into <repo>/.cache/llm-d-samples/<version>/, for the
# compatibility test (test/integration/llm-d-samples.test.ts). They come from the Go module proxy
# (`go mod download`, the module zip holds the whole repository tree), are never committed, and
# are reused once fetched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION="${LLMD_SAMPLES_VERSION:-v0.7.1}"   # the release tokenroute's llm-d peer is pinned to
MODULE="github.com/llm-d/llm-d-inference-scheduler"
OUT="$DEPS_REPO_ROOT/.cache/llm-d-samples/$VERSION"

if compgen -G "$OUT/*.yaml" >/dev/null; then
  echo "llm-d sample configs $VERSION: cached at $OUT ($(ls "$OUT" | wc -l) files)"
  exit 0
fi

command -v go >/dev/null || { echo "llm-d-samples: needs Go (go mod download)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dir="$(cd "$work" && GOFLAGS=-modcacherw go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "$dir" && -d "$dir/deploy/config" ]] || { echo "llm-d-samples: $MODULE@$VERSION has no deploy/config" >&2; exit 1; }
mkdir -p "$OUT.tmp"
cp "$dir"/deploy/config/*.yaml "$OUT.tmp"/
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "llm-d sample configs $VERSION: $(ls "$OUT" | wc -l) files in $OUT"
