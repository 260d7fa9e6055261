#!/usr/bin/env bash
# Builds a busybox base image offline from the host's busybox-static and writes it as an
# OCI image layout. The result is byte-for-byte reproducible for a given busybox binary:
# fixed mtimes, owner 0:0, sorted entry names, gzip without name/time, hand-written JSON.
#
#   scripts/base-images.sh [OUT_DIR]     default OUT_DIR: <repo>/.cache/images/busybox
#
# An existing, valid layout built from the same busybox binary and recipe is reused.
# The layout's index.json tags the manifest "latest" (org.opencontainers.image.ref.name).
# Needs no root: applet links come from `busybox --list-full`, owners are set by tar.
# Env: BUSYBOX=/path/to/static/busybox overrides /bin/busybox; BUSYBOX_ARCH=arm64 names its architecture.
set -euo pipefail

# Bump when anything below changes the image bytes, so stale caches are rebuilt.
RECIPE=1
EPOCH=946684800 # 2000-01-01T00:00:00Z
CREATED="2000-01-01T00:00:00Z"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
out=${1:-$repo/.cache/images/busybox}
bb=${BUSYBOX:-/bin/busybox}

die() { echo "base-images: $*" >&2; exit 1; }

for t in tar gzip sha256sum flock perl; do
  command -v "$t" >/dev/null 2>&1 || die "'$t' is required; run scripts/test-env.sh"
done
[[ -x "$bb" ]] || die "$bb not found; install busybox-static (scripts/test-env.sh)"

# A dynamic busybox would be copied into a root with no libc and fail at the first RUN.
if command -v dpkg-query >/dev/null 2>&1 && [[ "$bb" == /bin/busybox ]]; then
  owner=$(dpkg-query -S /bin/busybox 2>/dev/null | cut -d: -f1 || true)
  [[ -z "$owner" || "$owner" == busybox-static ]] || die "/bin/busybox comes from '$owner', not busybox-static; install busybox-static"
fi

# BUSYBOX_ARCH: the image's architecture when BUSYBOX is another machine's binary (it runs under binfmt emulation).
case "${BUSYBOX_ARCH:-$(uname -m)}" in
  x86_64|amd64) arch=amd64 ;;
  aarch64|arm64) arch=arm64 ;;
  armv7l) arch=arm ;;
  i?86) arch=386 ;;
  ppc64le) arch=ppc64le ;;
  s390x) arch=s390x ;;
  riscv64) arch=riscv64 ;;
  *) die "unsupported machine $(uname -m)" ;;
esac

bb_sum=$(sha256sum "$bb" | cut -d' ' -f1)
stamp="recipe=$RECIPE busybox=$bb_sum arch=$arch"

# Valid = the stamp matches and every blob the index reaches exists with its digest.
layout_valid() {
  local dir=$1 d
  [[ -f "$dir/oci-layout" && -f "$dir/index.json" && -f "$dir/.kiln-stamp" ]] || return 1
  [[ "$(cat "$dir/.kiln-stamp")" == "$stamp" ]] || return 1
  command -v jq >/dev/null 2>&1 || return 1
  local manifest
  manifest=$(jq -r '.manifests[0].digest' "$dir/index.json") || return 1
  for d in "$manifest" $(jq -r '.config.digest, .layers[].digest' "$dir/blobs/sha256/${manifest#sha256:}" 2>/dev/null); do
    [[ "$d" == sha256:* && -f "$dir/blobs/sha256/${d#sha256:}" ]] || return 1
    [[ "$(sha256sum "$dir/blobs/sha256/${d#sha256:}" | cut -d' ' -f1)" == "${d#sha256:}" ]] || return 1
  done
}

mkdir -p "$(dirname "$out")"
# Several test processes may ask for the image at once: one builds, the others wait and reuse.
exec 9>"$out.lock"
flock 9

if layout_valid "$out"; then
  echo "$out"
  exit 0
fi

work=$(mktemp -d "$(dirname "$out")/.busybox-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
umask 022

# --- rootfs ---------------------------------------------------------------------------
mkdir -p "$root"
for d in bin sbin usr usr/bin usr/sbin etc home root tmp var var/tmp dev proc sys; do
  mkdir -p "$root/$d"
done
install -m 0755 "$bb" "$root/bin/busybox"
# Same links `busybox --install -s` makes, without needing a chroot (and so root).
# linuxrc is an initrd entry point, not a command; busybox itself is already the binary.
# One perl process makes all links: a fork per applet costs seconds on small VMs.
"$bb" --list-full | LC_ALL=C sort | grep -v -x -e linuxrc -e bin/busybox -e '' >"$work/applets"
perl -e 'chdir $ARGV[0] or die "$ARGV[0]: $!\n"; while (<STDIN>) { chomp; symlink("/bin/busybox", $_) or die "$_: $!\n" }' "$root" <"$work/applets"

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:
users:x:100:
nogroup:x:65534:
EOF
cat >"$root/etc/shadow" <<'EOF'
root:*:10933:0:99999:7:::
daemon:*:10933:0:99999:7:::
bin:*:10933:0:99999:7:::
sys:*:10933:0:99999:7:::
nobody:*:10933:0:99999:7:::
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group"
chmod 0640 "$root/etc/shadow"
chmod 0700 "$root/root"
chmod 1777 "$root/tmp" "$root/var/tmp"

# --- layer ----------------------------------------------------------------------------
# Names without "./", parents before children, byte order: the archive depends on nothing
# but the tree. gnu format carries no atime/ctime; mtime is pinned for every entry.
blobs=$work/layout/blobs/sha256
mkdir -p "$blobs"
(cd "$root" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) >"$work/names"
tar -C "$root" --no-recursion --verbatim-files-from -T "$work/names" \
  --format=gnu --mtime=@$EPOCH --owner=0 --group=0 --numeric-owner \
  -cf "$work/layer.tar"
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -6 -c "$work/layer.tar" >"$work/layer.tar.gz"
layer_digest=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
layer_size=$(stat -c %s "$work/layer.tar.gz")
mv "$work/layer.tar.gz" "$blobs/$layer_digest"

# --- JSON -----------------------------------------------------------------------------
# Written by hand as compact JSON with a fixed key order so the digests are stable.
version=$({ "$bb" 2>&1 || true; } | sed -n '1s/^BusyBox v\([^ ]*\).*/\1/p')
printf '{"architecture":"%s","os":"linux","created":"%s","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"busybox %s from busybox-static (kiln scripts/base-images.sh)"}]}' \
  "$arch" "$CREATED" "$diff_id" "$CREATED" "${version:-unknown}" >"$work/config.json"
config_digest=$(sha256sum "$work/config.json" | cut -d' ' -f1)
config_size=$(stat -c %s "$work/config.json")
mv "$work/config.json" "$blobs/$config_digest"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
manifest_digest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
manifest_size=$(stat -c %s "$work/manifest.json")
mv "$work/manifest.json" "$blobs/$manifest_digest"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"architecture":"%s","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
  "$manifest_digest" "$manifest_size" "$arch" >"$work/layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
printf '%s' "$stamp" >"$work/layout/.kiln-stamp"

# Swap in the new layout whole, so a reader never sees a half-written one. Only a stale
# layout (or an empty dir) is replaced: OUT_DIR pointing at anything else is a mistake.
if [[ -e "$out" ]]; then
  if [[ -f "$out/oci-layout" ]] || [[ -d "$out" && -z "$(ls -A "$out")" ]]; then
    rm -rf "$out"
  else
    die "$out exists and is not an OCI layout; refusing to replace it"
  fi
fi
mv "$work/layout" "$out"
echo "$out"
