#!/usr/bin/env bash
# Provisions a Debian 12 machine with the external tools kiln's test suite drives
# (a real registry, image checkers, a static busybox for base images, namespaces).
# Idempotent: when everything is present it only checks and exits 0 in well under a second.
# It installs packages but never starts a service: tests start their own servers.
set -euo pipefail

# command -> Debian package providing it. Order matters only for the message.
tools=(docker-registry skopeo umoci busybox jq openssl unshare patchelf dockerd getfattr runc slirp4netns gcc libc.a podman catatonit qemu-aarch64-static git)
declare -A pkg_of=(
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [umoci]=umoci
  [busybox]=busybox-static
  [jq]=jq
  [openssl]=openssl
  [unshare]=util-linux
  [patchelf]=patchelf
  [getfattr]=attr
  # isolated-mode RUNs are runc containers; gcc builds the containment suite's static probes
  [runc]=runc
  [slirp4netns]=slirp4netns # the private network of isolated RUNs
  [gcc]=gcc
  [libc.a]=libc6-dev # gcc -static links against it
  # the conformance suite compares kiln with the Docker engine (BuildKit) it starts itself
  [dockerd]=docker.io
  # the deployment examples run under `podman kube play`; catatonit builds its pods' pause image
  [podman]=podman
  [catatonit]=catatonit
  # arm64 executor image and multi-platform builds run under emulation (tests register the binfmt handler)
  [qemu-aarch64-static]=qemu-user-static
  # git contexts are served by git's own http-backend
  [git]=git
)

# Base images are built from /bin/busybox, which must be the static build: it is copied
# into a root that has no libc. Debian's dynamic "busybox" package also installs /bin/busybox,
# so ask dpkg which package owns it when dpkg is there.
busybox_ok() {
  [[ -x /bin/busybox ]] || return 1
  if command -v dpkg-query >/dev/null 2>&1; then
    [[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" == "install ok installed" ]] || return 1
  fi
}

# libc.a: dpkg knows whether libc6-dev is there; elsewhere ask gcc where it would link it from.
libc_static_ok() {
  if command -v dpkg-query >/dev/null 2>&1; then
    [[ "$(dpkg-query -W -f='${Status}' libc6-dev 2>/dev/null)" == "install ok installed" ]]
  else
    local f; f=$(gcc -print-file-name=libc.a 2>/dev/null); [[ "$f" == /* && -f "$f" ]]
  fi
}

missing=()
for t in "${tools[@]}"; do
  if [[ "$t" == busybox ]]; then
    busybox_ok || missing+=("${pkg_of[$t]}")
  elif [[ "$t" == libc.a ]]; then
    libc_static_ok || missing+=("${pkg_of[$t]}")
  elif ! command -v "$t" >/dev/null 2>&1; then
    missing+=("${pkg_of[$t]}")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "test-env: all tools present (${tools[*]})"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "test-env: missing packages: ${missing[*]}" >&2
  echo "test-env: run as root, or install them with:" >&2
  echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "test-env: installing ${missing[*]}"
log=$(mktemp "${TMPDIR:-/tmp}/kiln-test-env.XXXXXX")
trap 'rm -f "$log"' EXIT
# Quiet on success; on failure show apt's own output, which names the real problem.
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "test-env: apt-get install ${missing[*]} failed (output above)" >&2
  exit 1
fi

# Installing a package is not proof the command arrived (e.g. a diverted path): check again.
for t in "${tools[@]}"; do
  if [[ "$t" == busybox ]]; then
    busybox_ok || { echo "test-env: /bin/busybox (busybox-static) still missing after install" >&2; exit 1; }
  elif [[ "$t" == libc.a ]]; then
    libc_static_ok || { echo "test-env: libc.a (libc6-dev) still missing after install" >&2; exit 1; }
  elif ! command -v "$t" >/dev/null 2>&1; then
    echo "test-env: '$t' still missing after installing ${pkg_of[$t]}" >&2
    exit 1
  fi
done
echo "test-env: ready"
