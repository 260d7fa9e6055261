#!/usr/bin/env bash
# The whole test suite on a fresh machine: provision tools (as root), compile the binary, run every test.
# Ends with one plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-env.sh || exit 1
BUN=node_modules/.bin/bun
[ -x "$BUN" ] || { echo "test: $BUN is missing: run 'npm install' first" >&2; exit 1; }
# package.json's build script, so the binary tested is the one `npm run build` makes.
$BUN run build >/dev/null || { echo "test: compiling dist/kiln failed" >&2; exit 1; }
log=$(mktemp "${TMPDIR:-/tmp}/kiln-test.XXXXXX")
trap 'rm -f "$log"' EXIT
# Test files run one at a time (--max-concurrency does not split files); each test file starts its own servers.
$BUN test --timeout 120000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
echo "${passed} passed, ${failed} failed"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "test: no test ran" >&2
  exit 1
fi
exit "$status"
