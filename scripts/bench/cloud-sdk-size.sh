#!/usr/bin/env bash
# What the cloud SDKs of issue 14 add to dist/kiln: binary size and the start-up of `kiln version`.
# Builds, from committed trees (git archive, so other people's uncommitted edits play no part):
#   before   the commit before the SDKs came in (a1a0108's parent)
#   after    AFTER (default HEAD): every SDK, each imported lazily where it is needed
#   sdk-*    `before` plus one SDK group behind a dynamic import() that `version` never reaches, which is how kiln
#            imports them; KILN_BENCH_LOAD_SDK=1 makes the same binary import it first (the cost on first use)
# Runs are interleaved (round-robin over all binaries) so load changes hit every binary alike; prints medians.
#
#   scripts/bench/cloud-sdk-size.sh [ROUNDS] [AFTER]
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
rounds=${1:-15}
after=${2:-HEAD}
before=$(git rev-parse a1a0108^)
bun=$repo/node_modules/.bin/bun
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-sdk-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

tree() { # COMMIT DIR
  mkdir -p "$2" && git archive "$1" | tar -x -C "$2" && ln -s "$repo/node_modules" "$2/node_modules"
}
compile() { # DIR ENTRY OUT
  (cd "$1" && "$bun" build --compile --bytecode --format=esm "$2" --outfile "$3" >/dev/null)
}

tree "$before" "$work/before"
tree "$after" "$work/after"
compile "$work/before" cli/main.ts "$work/bin-before"
compile "$work/after" cli/main.ts "$work/bin-after"
declare -A groups=(
  [none]=""
  [ecr]="@aws-sdk/client-ecr @aws-sdk/client-ecr-public @aws-sdk/credential-providers"
  [s3]="@aws-sdk/client-s3 @aws-sdk/credential-providers"
  [google]="google-auth-library"
  [azure]="@azure/identity @azure/storage-blob"
)
names=(before after)
for g in none ecr s3 google azure; do
  {
    # The modules are kept in a global: an unused import() of a "sideEffects": false package is dropped by the bundler.
    echo 'const loaded: unknown[] = [];'
    echo 'if (process.env.KILN_BENCH_LOAD_SDK) {'
    for p in ${groups[$g]}; do echo "  loaded.push(await import(\"$p\"));"; done
    echo '}'
    echo '(globalThis as Record<string, unknown>).kilnBenchSdk = loaded;'
    echo 'await import("./main.ts");'
  } > "$work/before/cli/bench-sdk.ts"
  compile "$work/before" cli/bench-sdk.ts "$work/bin-sdk-$g"
  names+=("sdk-$g")
done

echo "uptime: $(uptime)"
echo "sizes (bytes):"
for n in "${names[@]}"; do printf '  %-12s %11d  %6.1f MiB\n' "$n" "$(stat -c %s "$work/bin-$n")" "$(echo "$(stat -c %s "$work/bin-$n")/1048576" | bc -l)"; done

# One warm-up run each (page cache), then ROUNDS interleaved rounds; "+load" variants import their SDK first.
runs=()
for n in "${names[@]}"; do runs+=("$n"); [[ $n == sdk-* && $n != sdk-none ]] && runs+=("$n+load"); done
declare -A times
ms() { # NAME -> milliseconds of one `version` run
  local n=${1%+load} env=()
  [[ $1 == *+load ]] && env=(KILN_BENCH_LOAD_SDK=1)
  local t0=$EPOCHREALTIME
  env "${env[@]}" "$work/bin-$n" version >/dev/null
  echo "$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))"
}
for r in "${runs[@]}"; do ms "$r" >/dev/null; done
for ((i = 0; i < rounds; i++)); do
  for r in "${runs[@]}"; do times[$r]+="$(ms "$r") "; done
done
echo "uptime: $(uptime)"
echo "kiln version, wall ms over $rounds interleaved rounds (median, min, max):"
for r in "${runs[@]}"; do
  read -r med min max < <(tr ' ' '\n' <<<"${times[$r]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}')
  printf '  %-16s %5d %5d %5d\n' "$r" "$med" "$min" "$max"
done
