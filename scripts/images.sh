#!/usr/bin/env bash
# Builds kiln's executor and debug images with kiln itself (the isolated mode, on this host) into OCI layouts:
#
#   npm run build && scripts/images.sh [--push REPO] [--out DIR]
#
#   dist/images/executor   Dockerfile.scratch: /kaniko/executor (+ /kaniko/warmer), its loader and libraries,
#                          CA bundle; ENTRYPOINT /kaniko/executor
#   dist/images/debug      Dockerfile.debug: the same plus busybox at /busybox
#
# With --push REPO they are also pushed as REPO/executor:<version> and REPO/executor:<version>-debug
# (credentials from $DOCKER_CONFIG/config.json as for any kiln push; KILN_FLAGS adds flags, e.g. --insecure).
#
# The loader trick: dist/kiln is a glibc-dynamic executable whose interpreter is /lib64/ld-linux-x86-64.so.2,
# which a base image unpacked over / may replace or lack. The image's copy gets its interpreter and library
# path rewritten with patchelf to /kaniko/lib, where the loader and the libraries it needs are copied from this
# host. Bun's compiled payload lives in an ELF section (.bun), which patchelf keeps intact.
# amd64 only: an arm64 image needs an arm64 Bun (`bun build --compile --target=bun-linux-arm64`) plus arm64
# glibc libraries (Debian multiarch: dpkg --add-architecture arm64; apt-get install libc6:arm64) and
# --custom-platform linux/arm64.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
cd "$repo"

die() { echo "images: $*" >&2; exit 1; }
push=""
out=dist/images
while [[ $# -gt 0 ]]; do
  case $1 in
    --push) [[ $# -ge 2 ]] || die "--push needs a repository, e.g. --push registry.example.com/kiln"; push=${2%/}; shift 2 ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; out=$2; shift 2 ;;
    *) die "unknown argument $1 (use --push REPO, --out DIR)" ;;
  esac
done

binary=dist/kiln
[[ -x $binary ]] || die "$binary is missing: run 'npm run build' first"
command -v patchelf >/dev/null || die "patchelf is missing: apt-get install patchelf"
[[ -x /bin/busybox ]] || die "/bin/busybox is missing: apt-get install busybox-static"
cabundle=/etc/ssl/certs/ca-certificates.crt
[[ -f $cabundle ]] || die "$cabundle is missing: apt-get install ca-certificates"
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)
source_url=${KILN_SOURCE_URL:-https://example.invalid/kiln}

ctx=$(mktemp -d "${TMPDIR:-/tmp}/kiln-images-XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/kaniko/lib" "$ctx/kaniko/ssl/certs" "$ctx/kaniko/.docker" "$ctx/busybox"

# The executor and what its loader needs.
cp "$binary" "$ctx/kaniko/executor"
interp=$(patchelf --print-interpreter "$binary")
cp -L "$interp" "$ctx/kaniko/lib/$(basename "$interp")"
for lib in $(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do cp -L "$lib" "$ctx/kaniko/lib/"; done
patchelf --set-interpreter "/kaniko/lib/$(basename "$interp")" --set-rpath /kaniko/lib "$ctx/kaniko/executor"
ln -s executor "$ctx/kaniko/warmer"
cp "$cabundle" "$ctx/kaniko/ssl/certs/ca-certificates.crt"
chmod -R a+rX "$ctx/kaniko"

# busybox for the debug image: the static binary and one symlink per applet.
cp /bin/busybox "$ctx/busybox/busybox"
for applet in $(/bin/busybox --list); do [[ $applet == busybox ]] || ln -s busybox "$ctx/busybox/$applet"; done

# patchelf must have kept Bun's payload: start the patched binary through the copied loader (its own
# interpreter path, /kaniko/lib/..., exists only inside the image).
"$ctx/kaniko/lib/$(basename "$interp")" --library-path "$ctx/kaniko/lib" "$ctx/kaniko/executor" version >/dev/null \
  || die "the patched executor does not start"

mkdir -p "$out"
build() { # NAME DOCKERFILE TAG
  local dest=() layout="$out/$1"
  [[ -n $push ]] && dest=(--destination "$push/executor:$3") || dest=(--no-push)
  rm -rf "$layout"
  "$binary" --context "dir://$ctx" --dockerfile "$repo/$2" "${dest[@]}" --oci-layout-path "$layout" \
    --build-arg "VERSION=$version" --build-arg "SOURCE=$source_url" --log-format text ${KILN_FLAGS:-}
  echo "images: $1 -> $layout${push:+ and $push/executor:$3}"
}
build executor Dockerfile.scratch "$version"
build debug Dockerfile.debug "$version-debug"
