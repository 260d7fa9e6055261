#!/usr/bin/env bash
# Builds kiln's executor and debug images with kiln itself (the isolated mode, on this host) into OCI layouts:
#
#   npm run build && scripts/images.sh [--push REPO] [--out DIR] [--platforms linux/amd64,linux/arm64]
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
# arm64 (--platforms ...,linux/arm64): dist/kiln-arm64 from package.json's build script (the flags of dist/kiln)
# with --target=bun-linux-arm64 (Bun fetches its arm64 runtime from the npm registry), glibc and a static
# busybox from Debian's arm64 packages
# (scripts/arm64-deps.sh; the system's apt setup is untouched), the same patchelf step, built with
# --custom-platform linux/arm64. The arm64 binary is started once under emulation (binfmt_misc must have an
# aarch64 handler; the tests register qemu-user-static's) to check patchelf kept it whole.
#
# Several platforms: each image is built once per platform into DIR/.platforms/, then DIR/executor and
# DIR/debug are one OCI layout each whose index.json names an image index ("latest": `oci:DIR:latest`) and
# each platform's manifest with its platform (kiln's own layout for --platform a,b). --push pushes that index
# (skopeo copy --all) as one multi-platform tag. Default platforms: linux/amd64 for local layouts, both for
# --push (a release).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
cd "$repo"

die() { echo "images: $*" >&2; exit 1; }
push=""
out=dist/images
platforms=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --push) [[ $# -ge 2 ]] || die "--push needs a repository, e.g. --push registry.example.com/kiln"; push=${2%/}; shift 2 ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; out=$2; shift 2 ;;
    --platforms) [[ $# -ge 2 ]] || die "--platforms needs a list, e.g. --platforms linux/amd64,linux/arm64"; platforms=$2; shift 2 ;;
    *) die "unknown argument $1 (use --push REPO, --out DIR, --platforms LIST)" ;;
  esac
done
[[ -n $platforms ]] || { [[ -n $push ]] && platforms=linux/amd64,linux/arm64 || platforms=linux/amd64; }
IFS=, read -r -a archs <<<"$platforms"
for i in "${!archs[@]}"; do
  case ${archs[$i]} in
    linux/amd64) archs[i]=amd64 ;; linux/arm64) archs[i]=arm64 ;;
    *) die "--platforms: ${archs[$i]} is not supported (linux/amd64, linux/arm64)" ;;
  esac
done

binary=dist/kiln
[[ -x $binary ]] || die "$binary is missing: run 'npm run build' first"
command -v patchelf >/dev/null || die "patchelf is missing: apt-get install patchelf"
cabundle=/etc/ssl/certs/ca-certificates.crt
[[ -f $cabundle ]] || die "$cabundle is missing: apt-get install ca-certificates"
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)
source_url=${KILN_SOURCE_URL:-https://example.invalid/kiln}

work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-images-XXXXXX")
trap 'rm -rf "$work"' EXIT

# patchelf (0.14 to 0.18) moves .gnu.version_d when the dynamic string table grows but leaves DT_VERDEF at the
# old address; glibc then reads garbage version definitions and crashes (seen on Bun's arm64 binary, which
# exports versioned symbols). Point DT_VERDEF back at the section.
fix_verdef() { # ELF
  local f=$1 sec dyn idx
  sec=$(readelf -SW "$f" | sed -n 's/^ *\[ *[0-9]*\] *\.gnu\.version_d  *[A-Z]*  *\([0-9a-f]*\) .*/\1/p')
  [[ -n $sec ]] || return 0
  dyn=$(readelf -SW "$f" | sed -n 's/^ *\[ *[0-9]*\] *\.dynamic  *[A-Z]*  *[0-9a-f]*  *\([0-9a-f]*\) .*/\1/p')
  idx=$(readelf -dW "$f" | grep '^ *0x' | grep -n '(VERDEF)' | cut -d: -f1)
  [[ -n $dyn && -n $idx ]] || die "$f: .dynamic or DT_VERDEF not found"
  # Elf64_Dyn is {d_tag, d_val}, 8 bytes each, little-endian on both platforms.
  local val="" i
  for i in 0 1 2 3 4 5 6 7; do val+=$(printf '\\x%02x' $(( (16#$sec >> (8 * i)) & 255 ))); done
  printf "$val" | dd of="$f" bs=1 seek=$(( 16#$dyn + (idx - 1) * 16 + 8 )) conv=notrunc status=none
}

# A build context for ARCH: /kaniko (executor, loader and libraries, CA bundle) and /busybox. The executor's
# interpreter and library path point into /kaniko/lib (patchelf).
context() { # ARCH DIR
  local arch=$1 ctx=$2 exe loader libs=() busybox
  mkdir -p "$ctx/kaniko/lib" "$ctx/kaniko/ssl/certs" "$ctx/kaniko/.docker" "$ctx/busybox"
  if [[ $arch == amd64 ]]; then
    exe=$binary
    [[ -x /bin/busybox ]] || die "/bin/busybox is missing: apt-get install busybox-static"
    busybox=/bin/busybox
    loader=$(patchelf --print-interpreter "$exe")
    mapfile -t libs < <(ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
  else
    exe=dist/kiln-arm64
    # package.json's build script (the flags dist/kiln was compiled with) for the arm64 target: Bun takes the
    # last --outfile, so the appended one replaces the script's dist/kiln.
    node_modules/.bin/bun run build --target=bun-linux-arm64 --outfile "$exe" >"$work/bun-arm64.log" 2>&1 \
      || die "bun build --target=bun-linux-arm64 failed (it fetches @oven/bun-linux-aarch64 from the npm registry): $(tail -3 "$work/bun-arm64.log")"
    local deps; deps=$(bash "$here/arm64-deps.sh")
    busybox=$deps/bin/busybox
    loader=$deps$(patchelf --print-interpreter "$exe")
    # no ldd for a foreign binary: its DT_NEEDED names, found in the unpacked glibc
    for n in $(patchelf --print-needed "$exe"); do
      [[ $n == "$(basename "$loader")" ]] || libs+=("$deps/lib/aarch64-linux-gnu/$n")
    done
  fi
  cp "$exe" "$ctx/kaniko/executor"
  cp -L "$loader" "$ctx/kaniko/lib/$(basename "$loader")"
  for lib in "${libs[@]}"; do cp -L "$lib" "$ctx/kaniko/lib/"; done
  patchelf --set-interpreter "/kaniko/lib/$(basename "$loader")" --set-rpath /kaniko/lib "$ctx/kaniko/executor"
  fix_verdef "$ctx/kaniko/executor"
  ln -s executor "$ctx/kaniko/warmer"
  cp "$cabundle" "$ctx/kaniko/ssl/certs/ca-certificates.crt"
  chmod -R a+rX "$ctx/kaniko"
  # busybox for the debug image: the static binary and one symlink per applet (an arm64 one lists its applets
  # under emulation).
  cp "$busybox" "$ctx/busybox/busybox"
  for applet in $("$busybox" --list); do [[ $applet == busybox ]] || ln -s busybox "$ctx/busybox/$applet"; done
  # patchelf must have kept Bun's payload: start the patched binary through the copied loader (its own
  # interpreter path, /kaniko/lib/..., exists only inside the image).
  "$ctx/kaniko/lib/$(basename "$loader")" --library-path "$ctx/kaniko/lib" "$ctx/kaniko/executor" version >/dev/null \
    || die "the patched $arch executor does not start$([[ $arch == amd64 ]] || echo " (a foreign binary needs a binfmt_misc handler, e.g. qemu-user-static's)")"
}

build() { # ARCH NAME DOCKERFILE LAYOUT [DESTINATION]
  local dest=(--no-push)
  [[ -n ${5:-} ]] && dest=(--destination "$5")
  rm -rf "$4"
  "$binary" --context "dir://$work/ctx-$1" --dockerfile "$repo/$3" "${dest[@]}" --oci-layout-path "$4" \
    --custom-platform "linux/$1" --build-arg "VERSION=$version" --build-arg "SOURCE=$source_url" --log-format text ${KILN_FLAGS:-}
}

# One layout holding every platform's image of NAME under an index tagged "latest", with the image's labels as
# the index's annotations.
compose() { # NAME
  local name=$1 layout=$out/$1 descs=() a m idx
  rm -rf "$layout"
  mkdir -p "$layout/blobs/sha256"
  for a in "${archs[@]}"; do
    local part=$out/.platforms/$name-$a
    cp -n "$part"/blobs/sha256/* "$layout/blobs/sha256/"
    descs+=("$(jq -c --arg a "$a" '.manifests[0] | del(.annotations) + {platform: {os: "linux", architecture: $a}}' "$part/index.json")")
  done
  local first=$out/.platforms/$name-${archs[0]}
  m=$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$first/index.json")
  local labels; labels=$(jq -c '.config.Labels // {}' "$first/blobs/sha256/$(jq -r '.config.digest | sub("sha256:"; "")' "$first/blobs/sha256/$m")")
  idx=$(printf '%s\n' "${descs[@]}" | jq -cs --argjson l "$labels" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: ., annotations: ($l | with_entries(select(.key | startswith("org.opencontainers.image."))))}')
  local digest; digest=$(printf '%s' "$idx" | sha256sum | cut -d' ' -f1)
  printf '%s' "$idx" >"$layout/blobs/sha256/$digest"
  printf '%s\n' "${descs[@]}" | jq -cs --arg d "sha256:$digest" --argjson size "${#idx}" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: ([{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $size,
                    annotations: {"org.opencontainers.image.ref.name": "latest"}}] + .)}' >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
}

push_index() { # NAME TAG
  local opts=(--all)
  [[ " ${KILN_FLAGS:-} " == *" --insecure "* ]] && opts+=(--dest-tls-verify=false)
  local auth=${DOCKER_CONFIG:-$HOME/.docker}/config.json
  [[ -f $auth ]] && opts+=(--dest-authfile "$auth")
  skopeo copy "${opts[@]}" "oci:$out/$1:latest" "docker://$push/executor:$2" >/dev/null
}

for a in "${archs[@]}"; do context "$a" "$work/ctx-$a"; done
mkdir -p "$out" "$out/.platforms"
for spec in "executor Dockerfile.scratch $version" "debug Dockerfile.debug $version-debug"; do
  read -r name dockerfile tag <<<"$spec"
  if [[ ${#archs[@]} -eq 1 ]]; then
    # One platform: kiln writes the layout and pushes the image itself.
    build "${archs[0]}" "$name" "$dockerfile" "$out/$name" "${push:+$push/executor:$tag}"
  else
    for a in "${archs[@]}"; do build "$a" "$name" "$dockerfile" "$out/.platforms/$name-$a"; done
    compose "$name"
    [[ -z $push ]] || push_index "$name" "$tag"
  fi
  echo "images: $name (${platforms}) -> $out/$name${push:+ and $push/executor:$tag}"
done
rm -rf "$out/.platforms"
