#!/usr/bin/env bash
# Builds examples/hello with kiln into an OCI layout (no registry needed) and shows what was written.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/hello-oci}
mkdir -p "$(dirname "$out")"
node_modules/.bin/bun cli/main.ts --context dir://examples/hello --dockerfile examples/hello/Dockerfile \
  --no-push --oci-layout-path "$out" --digest-file "$out.digest" --log-format text
echo "example: image $(cat "$out.digest") written to $out (an OCI image layout)"
