#!/usr/bin/env bash
# Fetches what the arm64 executor image needs from Debian's arm64 packages — glibc (the loader and the libraries a
# compiled Bun links) and a static busybox — and unpacks them into a git-ignored cache, printing its root:
#
#   scripts/arm64-deps.sh            -> <repo>/.cache/arm64-deps/root (lib/aarch64-linux-gnu/..., bin/busybox)
#
# The system's apt configuration is never touched: a private sources file, lists and archive cache under the
# cache directory, APT::Architecture=arm64, `apt-get download` and `dpkg -x` (no dpkg --add-architecture).
# Idempotent: a complete cache is reused without network access. Needs the Debian mirror and its keyring.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${KILN_ARM64_DEPS:-$(dirname "$here")/.cache/arm64-deps}
root=$cache/root
packages=(libc6 busybox-static)
die() { echo "arm64-deps: $*" >&2; exit 1; }

if [[ -f $root/.complete ]]; then echo "$root"; exit 0; fi
command -v apt-get >/dev/null && command -v dpkg >/dev/null || die "apt-get and dpkg are needed (Debian or Ubuntu)"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f $keyring ]] || die "$keyring is missing: apt-get install debian-archive-keyring"
mirror=${KILN_DEBIAN_MIRROR:-http://deb.debian.org}
suite=${KILN_DEBIAN_SUITE:-bookworm}

rm -rf "$cache"
mkdir -p "$cache/lists/partial" "$cache/archives/partial" "$cache/debs" "$root"
cat >"$cache/sources.list" <<EOF
deb [arch=arm64 signed-by=$keyring] $mirror/debian $suite main
deb [arch=arm64 signed-by=$keyring] $mirror/debian $suite-updates main
deb [arch=arm64 signed-by=$keyring] $mirror/debian-security $suite-security main
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$cache/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$cache/lists" -o "Dir::Cache=$cache" -o "Dir::Cache::Archives=$cache/archives"
  -o APT::Architecture=arm64 -o APT::Architectures::=arm64
  # the private lists are ours alone: no lock on the system's, and no _apt sandbox user who cannot write here
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)
log=$cache/apt.log
apt-get "${apt_opts[@]}" update >"$log" 2>&1 || die "apt-get update (private arm64 lists) failed; see $log"
(cd "$cache/debs" && apt-get "${apt_opts[@]}" download "${packages[@]/%/:arm64}") >>"$log" 2>&1 \
  || die "apt-get download ${packages[*]} (arm64) failed; see $log"
for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$root"; done
[[ -e $root/lib/ld-linux-aarch64.so.1 && -x $root/bin/busybox ]] || die "the unpacked packages lack the loader or busybox"
(cd "$cache/debs" && ls) >"$root/.complete"
rm -rf "$cache/lists" "$cache/archives"
echo "$root"
