#!/usr/bin/env bash
# The conformance suite alone: every tests/conformance/<case>/ built by Docker BuildKit (a private dockerd the
# harness starts) and by kiln, images compared. Ends with one plain "N passed, M failed" line.
# KILN_CONFORMANCE_CASES=a,b limits the run to those cases.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-env.sh || exit 1
BUN=node_modules/.bin/bun
[ -x "$BUN" ] || { echo "conformance: $BUN is missing: run 'npm install' first" >&2; exit 1; }
log=$(mktemp "${TMPDIR:-/tmp}/kiln-conformance.XXXXXX")
trap 'rm -f "$log"' EXIT
$BUN test --timeout 300000 tests/conformance/ 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# One line per case: the size-check test is not a case.
passed=$(grep -Ec '^\(pass\) conformance: ' "$log")
failed=$(grep -Ec '^\(fail\) conformance: ' "$log")
echo "${passed} passed, ${failed} failed"
[ "$passed" -gt 0 ] || { echo "conformance: no case ran" >&2; exit 1; }
exit "$status"
