#!/usr/bin/env bash
# Size of the executor and debug images (from scripts/images.sh) and the start-up time of `/kaniko/executor --help`
# run as a container would run it: the image unpacked into a temp root, new mount + PID namespaces, fresh /proc,
# chroot. "cold" evicts the binary and its libraries from the page cache first (posix_fadvise DONTNEED on those
# files only); "warm" is the median of the following runs.
#
#   npm run build && scripts/images.sh && scripts/bench/executor-image.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
images=dist/images
for n in executor debug; do [[ -f $images/$n/index.json ]] || { echo "bench: $images/$n missing: run scripts/images.sh" >&2; exit 1; }; done

size() { # LAYOUT -> "compressed_bytes uncompressed_bytes"
  local layout=$1 manifest config comp
  manifest=$layout/blobs/sha256/$(jq -r '.manifests[0].digest' "$layout/index.json" | cut -d: -f2)
  comp=$(jq '[.layers[].size] | add' "$manifest")
  local unc=0
  for d in $(jq -r '.layers[].digest' "$manifest" | cut -d: -f2); do
    unc=$((unc + $(gzip -dc "$layout/blobs/sha256/$d" | wc -c)))
  done
  echo "$comp $unc"
}
for n in executor debug; do
  read -r c u < <(size "$images/$n")
  printf '%-9s layers: %6.1f MiB compressed, %6.1f MiB unpacked\n' "$n" "$(echo "$c/1048576" | bc -l)" "$(echo "$u/1048576" | bc -l)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
umoci unpack --image "$images/executor:latest" "$work/bundle" >/dev/null
root=$work/bundle/rootfs
mkdir -p "$root/proc"
evict() {
  python3 - "$root"/kaniko/executor "$root"/kaniko/lib/* <<'PY'
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
PY
}
one() { # -> milliseconds of one containerised `--help`
  local t0 t1
  t0=$(date +%s%N)
  unshare --mount --pid --fork --propagation private sh -c \
    'mount --bind "$1" "$1" && mount -t proc proc "$1/proc" && exec /usr/sbin/chroot "$1" /kaniko/executor --help' sh "$root" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
# The namespace + mount + chroot set-up alone, to subtract.
base() {
  local t0 t1
  t0=$(date +%s%N)
  unshare --mount --pid --fork --propagation private sh -c 'mount --bind "$1" "$1" && mount -t proc proc "$1/proc" && exec /usr/sbin/chroot "$1" /kaniko/lib/ld-linux-x86-64.so.2 --version' sh "$root" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
evict
cold=$(one)
warm=(); for _ in $(seq "$runs"); do warm+=("$(one)"); done
setup=(); for _ in $(seq "$runs"); do setup+=("$(base)"); done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "executor --help: cold ${cold} ms, warm median $(median "${warm[@]}") ms (min $(printf '%s\n' "${warm[@]}" | sort -n | head -1)) over $runs runs; namespace+chroot set-up alone: median $(median "${setup[@]}") ms"
